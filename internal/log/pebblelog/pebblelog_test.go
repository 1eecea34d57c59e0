package pebblelog

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	wlog "github.com/weirhq/weir/internal/log"
)

func chunk(p, n, first int) wlog.Chunk {
	var payload []byte
	for i := range n {
		payload = wlog.AppendRecord(payload, []byte(fmt.Sprintf("r%d", first+i)))
	}
	return wlog.Chunk{Stream: "s", Partition: p, Meta: 7, Count: n, Payload: payload}
}

func readAll(t *testing.T, l *Log, p int, from int64) []string {
	t.Helper()
	var out []string
	for {
		bs, err := l.Read("s", p, from, 16)
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) == 0 {
			return out
		}
		for _, b := range bs {
			if b.Meta != 7 {
				t.Fatalf("meta = %d", b.Meta)
			}
			b.Records(func(off int64, rec []byte) bool {
				if off >= from {
					out = append(out, fmt.Sprintf("%d:%s", off, rec))
				}
				return true
			})
			from = b.End()
		}
	}
}

// openS opens the log in dir with stream "s" of 2 partitions declared;
// the caller closes it.
func openS(t *testing.T, dir string) *Log {
	t.Helper()
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.EnsureStream("s", 2); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAppendReadReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	l := openS(t, dir)
	ctx := context.Background()
	bases, err := l.Append(ctx, &wlog.Write{Chunks: []wlog.Chunk{chunk(0, 3, 0), chunk(1, 1, 100), chunk(0, 2, 3)},
		Puts: []wlog.Put{{Key: []byte("k"), Value: []byte("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(bases) != "[0 0 3]" {
		t.Fatalf("bases = %v", bases)
	}
	if got := fmt.Sprint(readAll(t, l, 0, 1)); got != "[1:r1 2:r2 3:r3 4:r4]" {
		t.Fatalf("read from 1 = %s", got)
	}
	l.Close()

	l, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.EnsureStream("s", 3); err == nil {
		t.Fatal("changing the partition count was accepted")
	}
	if err := l.EnsureStream("s", 2); err != nil {
		t.Fatal(err)
	}
	if end, _ := l.End("s", 0); end != 5 {
		t.Fatalf("end after reopen = %d, want 5", end)
	}
	if v, ok, _ := l.Get([]byte("k")); !ok || string(v) != "v" {
		t.Fatalf("meta k = %q %v", v, ok)
	}
	if _, err := l.Append(ctx, &wlog.Write{Chunks: []wlog.Chunk{chunk(0, 1, 5)}}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(readAll(t, l, 0, 4)); got != "[4:r4 5:r5]" {
		t.Fatalf("read = %s", got)
	}
}

func TestRetainNeverPassesFloor(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l, err := Open(filepath.Join(t.TempDir(), "log"), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.EnsureStream("s", 1)
	if start, err := l.Start("s", 0); err != nil || start != 0 {
		t.Fatalf("Start of an empty partition = %d (%v), want 0", start, err)
	}
	for i := range 5 {
		if _, err := l.Append(context.Background(), &wlog.Write{Chunks: []wlog.Chunk{chunk(0, 10, i*10)}}); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Hour) // every batch is now older than the max age
	n, err := l.Retain("s", 0, 25, wlog.Retention{MaxAgeMillis: 1000})
	if err != nil || n != 20 {
		t.Fatalf("retained deleted %d (%v), want the 2 batches below the floor 25 (20 records)", n, err)
	}
	if got := readAll(t, l, 0, 0); len(got) != 30 || got[0] != "20:r20" {
		t.Fatalf("after retention: %d records starting %v", len(got), got[:1])
	}
	if start, err := l.Start("s", 0); err != nil || start != 20 {
		t.Fatalf("Start after retention = %d (%v), want 20", start, err)
	}
}

// TestRetainKeepsTheEnd: retention with every batch below the floor keeps
// the last one, so the partition's end offset survives a reopen (deleting
// it restarted the offsets at 0, and a lake table ahead of the log then
// refused to open).
func TestRetainKeepsTheEnd(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	dir := filepath.Join(t.TempDir(), "log")
	l, err := Open(dir, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	l.EnsureStream("s", 1)
	for i := range 3 {
		if _, err := l.Append(context.Background(), &wlog.Write{Chunks: []wlog.Chunk{chunk(0, 10, i*10)}}); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Hour)
	if n, err := l.Retain("s", 0, 30, wlog.Retention{MaxAgeMillis: 1000}); err != nil || n != 20 {
		t.Fatalf("retain deleted %d (%v), want 20: the last batch stays", n, err)
	}
	l.Close()
	l, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.EnsureStream("s", 1)
	if end, _ := l.End("s", 0); end != 30 {
		t.Fatalf("end after retention and reopen = %d, want 30", end)
	}
}

// TestClosedLogFails: every call after Close fails with ErrClosed; Pebble
// itself panics on a closed database, so a request that reaches the log
// during shutdown would take the node down.
func TestClosedLogFails(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "log"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.EnsureStream("s", 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]error{}
	_, calls["Append"] = l.Append(context.Background(), &wlog.Write{Chunks: []wlog.Chunk{chunk(0, 1, 0)}})
	_, calls["Read"] = l.Read("s", 0, 0, 1<<20)
	_, calls["Start"] = l.Start("s", 0)
	_, calls["Retain"] = l.Retain("s", 0, 0, wlog.Retention{MaxAgeMillis: 1})
	_, _, calls["Get"] = l.Get([]byte("k"))
	calls["Set"] = l.Set([]byte("k"), []byte("v"))
	calls["Delete"] = l.Delete([]byte("k"))
	calls["DeletePrefix"] = l.DeletePrefix([]byte("k"))
	calls["DropStream"] = l.DropStream("s")
	calls["Scan"] = l.Scan([]byte("k"), func(_, _ []byte) bool { return true })
	calls["EnsureStream"] = l.EnsureStream("t", 1)
	for name, err := range calls {
		if !errors.Is(err, wlog.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// TestOpenLocked: a log another Log has open fails with ErrLocked.
func TestOpenLocked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

// TestDropKeepsOffsetsRising: a stream dropped and declared anew goes on
// from the offsets the dropped one ended at, in the same run and after a
// reopen, whether or not it was declared in the run that drops it, so a
// consumer's stored position is never past the new stream's records.
func TestDropKeepsOffsetsRising(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	l := openS(t, dir)
	if _, err := l.Append(context.Background(), &wlog.Write{Chunks: []wlog.Chunk{chunk(0, 5, 0), chunk(1, 2, 0)}}); err != nil {
		t.Fatal(err)
	}
	if err := l.DropStream("s"); err != nil {
		t.Fatal(err)
	}
	if err := l.EnsureStream("s", 2); err != nil {
		t.Fatal(err)
	}
	for p, want := range []int64{5, 2} {
		end, _ := l.End("s", p)
		start, _ := l.Start("s", p)
		if end != want || start != want {
			t.Errorf("partition %d after drop: start %d, end %d, want both %d", p, start, end, want)
		}
	}
	bases, err := l.Append(context.Background(), &wlog.Write{Chunks: []wlog.Chunk{chunk(0, 3, 100)}})
	if err != nil || bases[0] != 5 {
		t.Fatalf("append after drop: bases %v, %v; want 5", bases, err)
	}
	if got := fmt.Sprint(readAll(t, l, 0, 0)); got != "[5:r100 6:r101 7:r102]" {
		t.Errorf("read after drop: %s", got)
	}
	l.Close()

	// Reopened, dropped by a run that never declared it, declared again.
	if l, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.DropStream("s"); err != nil {
		t.Fatal(err)
	}
	if err := l.EnsureStream("s", 2); err != nil {
		t.Fatal(err)
	}
	for p, want := range []int64{8, 2} {
		if end, _ := l.End("s", p); end != want {
			t.Errorf("partition %d after reopen and drop: end %d, want %d", p, end, want)
		}
	}
}
