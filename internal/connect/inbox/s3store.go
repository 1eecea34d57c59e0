package inbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Store is an inbox under a prefix of an S3-compatible bucket. Its
// folders are PREFIX, PREFIX/done/ and PREFIX/rejected/. Objects are
// copied to a local temporary file to be read (the readers seek, and
// check a file whole before ingesting it); a move is a server-side copy
// then a delete.
type s3Store struct {
	client *minio.Client
	bucket string
	prefix string // "" or ending in "/"
	spool  string // the directory of the local copies; "" for the system's
	source string // the source's name, in the names of its local copies
}

// S3 settings, from the source's fields.
type s3Config struct {
	source, url, endpoint    string
	region                   string
	accessKeyEnv, secretEnv  string
	spool                    string
	pathStyle, allowInsecure bool
}

// newS3Store parses s3://BUCKET/PREFIX and connects (lazily: the first
// request goes out in prepare).
func newS3Store(c s3Config) (*s3Store, error) {
	u, err := url.Parse(c.url)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("url must look like s3://BUCKET/PREFIX/, got %q", c.url)
	}
	prefix := strings.TrimPrefix(u.Path, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	ep, err := url.Parse(c.endpoint)
	if err != nil || (ep.Scheme != "http" && ep.Scheme != "https") || ep.Host == "" || (ep.Path != "" && ep.Path != "/") {
		return nil, fmt.Errorf("endpoint must be http://HOST:PORT or https://HOST, with no path, got %q", c.endpoint)
	}
	if ep.Scheme == "http" && !c.allowInsecure && !isLoopback(ep.Hostname()) {
		return nil, fmt.Errorf("endpoint %s is plain http to another host: the keys and the files would cross the network unencrypted; use https, or set insecure: true", c.endpoint)
	}
	var creds *credentials.Credentials
	if id, secret := os.Getenv(c.accessKeyEnv), os.Getenv(c.secretEnv); id != "" || secret != "" {
		if id == "" || secret == "" {
			return nil, fmt.Errorf("only one of $%s and $%s is set: set both (the access key and its secret), or neither to use the instance's role", c.accessKeyEnv, c.secretEnv)
		}
		creds = credentials.NewStaticV4(id, secret, os.Getenv("AWS_SESSION_TOKEN"))
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.FileAWSCredentials{}, &credentials.IAM{}})
	}
	lookup := minio.BucketLookupAuto
	if c.pathStyle {
		lookup = minio.BucketLookupPath
	}
	cl, err := minio.New(ep.Host, &minio.Options{Creds: creds, Secure: ep.Scheme == "https", Region: c.region, BucketLookup: lookup})
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %v", c.endpoint, err)
	}
	return &s3Store{client: cl, bucket: u.Host, prefix: prefix, spool: c.spool, source: c.source}, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}

func (s *s3Store) key(folder, name string) string {
	if folder == "" {
		return s.prefix + name
	}
	return s.prefix + folder + "/" + name
}

func (s *s3Store) where(folder, name string) string {
	return "s3://" + s.bucket + "/" + s.key(folder, name)
}

// notFound maps a missing object to os.ErrNotExist.
func notFound(err error) error {
	if err == nil {
		return nil
	}
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey", "NotFound":
		return fmt.Errorf("%w: %v", os.ErrNotExist, err)
	}
	return err
}

// spoolPattern names the local copies of a source's files.
func (s *s3Store) spoolPattern() string { return "weir-inbox-" + s.source + "-*" }

// prepare lists one object under the prefix (what the source needs to
// be allowed anyway), makes the spool directory and removes local copies
// an earlier run left behind.
func (s *s3Store) prepare(ctx context.Context) error {
	lctx, cancel := context.WithCancel(ctx)
	objects := s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, MaxKeys: 1})
	defer func() {
		// Stop the lister, which would go on fetching pages and then
		// block on its channel for ever: drain it until it closes.
		cancel()
		for range objects {
		}
	}()
	for o := range objects {
		if o.Err == nil {
			break
		}
		if minio.ToErrorResponse(o.Err).Code == "NoSuchBucket" {
			return fmt.Errorf("bucket %s does not exist: create it, or fix url", s.bucket)
		}
		return fmt.Errorf("cannot list %s: %w (check endpoint, region, the keys, and that they may list the prefix)", s.where("", ""), o.Err)
	}
	dir := s.spool
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot make spool_dir %s: %w", dir, err)
	}
	stale, _ := filepath.Glob(filepath.Join(dir, s.spoolPattern()))
	for _, f := range stale {
		os.Remove(f)
	}
	return nil
}

func (s *s3Store) list(ctx context.Context) ([]object, error) {
	var out []object
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix}) {
		if o.Err != nil {
			return nil, o.Err
		}
		name := strings.TrimPrefix(o.Key, s.prefix)
		if name == "" || strings.Contains(name, "/") { // a folder (done/, rejected/, others)
			continue
		}
		out = append(out, object{name: name, size: o.Size, mtime: o.LastModified, tag: o.ETag})
	}
	return out, nil
}

func (s *s3Store) fetch(ctx context.Context, folder, name string) (*os.File, object, func(), error) {
	o, err := s.client.GetObject(ctx, s.bucket, s.key(folder, name), minio.GetObjectOptions{})
	if err != nil {
		return nil, object{}, nil, notFound(err)
	}
	defer o.Close()
	info, err := o.Stat()
	if err != nil {
		return nil, object{}, nil, notFound(err)
	}
	f, err := os.CreateTemp(s.spool, s.spoolPattern())
	if err != nil {
		return nil, object{}, nil, fmt.Errorf("cannot make a local copy of %s: %w", s.where(folder, name), err)
	}
	release := func() { os.Remove(f.Name()) }
	if _, err := io.Copy(f, o); err != nil {
		f.Close()
		release()
		return nil, object{}, nil, fmt.Errorf("cannot copy %s here: %w", s.where(folder, name), notFound(err))
	}
	return f, object{name: name, size: info.Size, mtime: info.LastModified, tag: info.ETag}, release, nil
}

func (s *s3Store) read(ctx context.Context, folder, name string) ([]byte, error) {
	o, err := s.client.GetObject(ctx, s.bucket, s.key(folder, name), minio.GetObjectOptions{})
	if err != nil {
		return nil, notFound(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	return b, notFound(err)
}

func (s *s3Store) exists(ctx context.Context, folder, name string) (bool, error) {
	_, err := s.client.StatObject(ctx, s.bucket, s.key(folder, name), minio.StatObjectOptions{})
	if err = notFound(err); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// move copies the object (only the version tag names, when given) and
// deletes the original if it is still that version. A crash between the
// two leaves both; the copy carries the original's ETag, so the next
// attempt sees it was made (same) and only deletes.
func (s *s3Store) move(ctx context.Context, name, tag, folder, dst string) error {
	src, err := s.copy(ctx, name, tag, folder, dst)
	if err != nil || src == nil {
		return err
	}
	// S3 has no conditional delete: look once more, and leave a file
	// replaced meanwhile for the next scan.
	now, err := s.client.StatObject(ctx, s.bucket, src.Key, minio.StatObjectOptions{})
	if err = notFound(err); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if now.ETag != src.ETag {
		return errChanged
	}
	return s.client.RemoveObject(ctx, s.bucket, src.Key, minio.RemoveObjectOptions{VersionID: now.VersionID})
}

// copy is move's first half: it returns the original (nil when it is
// gone) once folder/dst holds a copy of it.
func (s *s3Store) copy(ctx context.Context, name, tag, folder, dst string) (*minio.ObjectInfo, error) {
	src, err := s.client.StatObject(ctx, s.bucket, s.key("", name), minio.StatObjectOptions{})
	if err = notFound(err); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if tag != "" && src.ETag != tag {
		return nil, errChanged
	}
	done, err := s.copied(ctx, src, folder, dst)
	if err != nil || done {
		return &src, err
	}
	to := minio.CopyDestOptions{Bucket: s.bucket, Object: s.key(folder, dst),
		UserMetadata: map[string]string{copiedFrom: src.ETag}, ReplaceMetadata: true}
	from := minio.CopySrcOptions{Bucket: s.bucket, Object: src.Key, MatchETag: src.ETag}
	if src.Size <= 5<<30 { // one CopyObject; above 5 GiB S3 needs a multipart copy
		_, err = s.client.CopyObject(ctx, to, from)
	} else {
		_, err = s.client.ComposeObject(ctx, to, from)
	}
	if minio.ToErrorResponse(err).Code == "PreconditionFailed" {
		return nil, errChanged
	}
	if err != nil {
		return nil, err
	}
	return &src, nil
}

// copiedFrom is the user metadata a moved object carries: the ETag of the
// object it was copied from.
const copiedFrom = "Weir-Copied-From"

// copied reports whether folder/dst is already a copy of src.
func (s *s3Store) copied(ctx context.Context, src minio.ObjectInfo, folder, dst string) (bool, error) {
	d, err := s.client.StatObject(ctx, s.bucket, s.key(folder, dst), minio.StatObjectOptions{})
	if err = notFound(err); errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	for k, v := range d.UserMetadata {
		if strings.EqualFold(k, copiedFrom) && v == src.ETag && d.Size == src.Size {
			return true, nil
		}
	}
	return false, nil
}

// same is copied for a name in the inbox: used to pick the name a file
// keeps in done/ when a crash left a copy there before.
func (s *s3Store) same(ctx context.Context, name, folder, dst string) (bool, error) {
	src, err := s.client.StatObject(ctx, s.bucket, s.key("", name), minio.StatObjectOptions{})
	if err = notFound(err); errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return s.copied(ctx, src, folder, dst)
}

func (s *s3Store) write(ctx context.Context, folder, name string, b []byte) error {
	ct := "text/plain; charset=utf-8"
	if strings.HasSuffix(name, ".json") {
		ct = "application/json"
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.key(folder, name), bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{ContentType: ct})
	return err
}
