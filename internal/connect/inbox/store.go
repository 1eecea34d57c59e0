package inbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// store is where an inbox's files are: a local directory, or a prefix in
// an S3-compatible bucket. It knows three folders: the inbox itself ("")
// and its "done" and "rejected" folders. Names are base names within a
// folder. A name that is not there reads as os.ErrNotExist.
type store interface {
	// prepare makes the folders (a directory) or checks the bucket.
	prepare(ctx context.Context) error
	// list names the files in the inbox folder (not in done/ or rejected/).
	list(ctx context.Context) ([]object, error)
	// fetch gives a file's content as a local file the readers can seek
	// in, and its size and modification time. The caller closes f, then
	// calls release.
	fetch(ctx context.Context, folder, name string) (f *os.File, obj object, release func(), err error)
	// read reads a small file (a sidecar) whole.
	read(ctx context.Context, folder, name string) ([]byte, error)
	// exists reports whether a file is there.
	exists(ctx context.Context, folder, name string) (bool, error)
	// move moves a file from the inbox folder to another folder, under the
	// name dst. A file already gone is not an error. With a tag (from fetch
	// or list), only that version of the file moves: if it has changed
	// since, move returns errChanged and leaves it.
	move(ctx context.Context, name, tag, folder, dst string) error
	// same reports whether folder/dst already holds a copy of the inbox's
	// name: a move that a crash cut short (copied, not yet deleted).
	same(ctx context.Context, name, folder, dst string) (bool, error)
	// write writes a small file (a note or a report).
	write(ctx context.Context, folder, name string, b []byte) error
	// where names a file for people: a path or a URL.
	where(folder, name string) string
}

// object is a file in a store.
type object struct {
	name  string
	size  int64
	mtime time.Time
	tag   string // the version (an S3 ETag); "" in a directory
}

// errChanged: the file was replaced since it was read.
var errChanged = errors.New("the file changed since it was read")

// dirStore is an inbox in a local directory.
type dirStore struct{ dir string }

func (d dirStore) path(folder, name string) string { return filepath.Join(d.dir, folder, name) }

func (d dirStore) where(folder, name string) string { return d.path(folder, name) }

func (d dirStore) prepare(context.Context) error {
	for _, f := range []string{"", "done", "rejected"} {
		if err := os.MkdirAll(filepath.Join(d.dir, f), 0o755); err != nil {
			return err
		}
	}
	return nil
}

func (d dirStore) list(context.Context) ([]object, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, err
	}
	out := make([]object, 0, len(entries))
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // gone since the listing
		}
		out = append(out, object{name: e.Name(), size: info.Size(), mtime: info.ModTime()})
	}
	return out, nil
}

func (d dirStore) fetch(_ context.Context, folder, name string) (*os.File, object, func(), error) {
	f, err := os.Open(d.path(folder, name))
	if err != nil {
		return nil, object{}, nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, object{}, nil, err
	}
	return f, object{name: name, size: info.Size(), mtime: info.ModTime()}, func() {}, nil
}

func (d dirStore) read(_ context.Context, folder, name string) ([]byte, error) {
	return os.ReadFile(d.path(folder, name))
}

func (d dirStore) exists(_ context.Context, folder, name string) (bool, error) {
	_, err := os.Lstat(d.path(folder, name))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d dirStore) move(_ context.Context, name, _, folder, dst string) error {
	err := os.Rename(d.path("", name), d.path(folder, dst))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// same: a rename is atomic, so a file still in the inbox was not moved.
func (d dirStore) same(context.Context, string, string, string) (bool, error) { return false, nil }

func (d dirStore) write(_ context.Context, folder, name string, b []byte) error {
	return os.WriteFile(d.path(folder, name), b, 0o644)
}
