package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
)

const testSchema = `{"type":"object","required":["ts","user_id"],"properties":{
 "ts":{"type":["string","integer"],"format":"date-time"},
 "user_id":{"type":"string"},
 "status":{"type":"integer"},
 "amount":{"type":["number","null"]}}}`

type fixture struct {
	t   *testing.T
	dir string
	log *pebblelog.Log
	sc  *schema.Schema
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	l, err := pebblelog.Open(filepath.Join(dir, "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.EnsureStream("clicks", 2); err != nil {
		t.Fatal(err)
	}
	sc, err := schema.Compile([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, dir: dir, log: l, sc: sc}
}

// appendEvents appends n events with ts spread over two hours, alternating partitions.
func (f *fixture) appendEvents(first, n int) {
	f.t.Helper()
	dec := schema.NewDecoder(f.sc, []int{1})
	var payload [2][]byte
	var count [2]int
	base := time.Date(2026, 11, 22, 10, 59, 0, 0, time.UTC).UnixMilli()
	for i := first; i < first+n; i++ {
		ev := fmt.Sprintf(`{"ts":%d,"user_id":"u%d","status":%d,"amount":%s}`, base+int64(i)*1000, i%7, 200+i%3, amount(i))
		d, err := dec.Decode(nil, []byte(ev))
		if err != nil {
			f.t.Fatal(err)
		}
		p := i % 2
		payload[p] = wlog.AppendRecord(payload[p], d.Row)
		count[p]++
	}
	w := &wlog.Write{}
	for p := range 2 {
		if count[p] > 0 {
			w.Chunks = append(w.Chunks, wlog.Chunk{Stream: "clicks", Partition: p, Meta: 1, Count: count[p], Payload: payload[p]})
		}
	}
	if _, err := f.log.Append(context.Background(), w); err != nil {
		f.t.Fatal(err)
	}
}

func amount(i int) string {
	if i%5 == 0 {
		return "null"
	}
	return fmt.Sprintf("%d.5", i)
}

func (f *fixture) open() *Writer {
	f.t.Helper()
	w, err := Open(context.Background(), Options{
		Warehouse: filepath.Join(f.dir, "lake"), Table: "clicks", Stream: "clicks", Partitions: 2,
		Schema: f.sc, SchemaVer: 1, EventCol: 0, MaxRows: 1000, MaxBytes: 1 << 20, Interval: time.Second, Log: f.log,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

func countRows(t *testing.T, files []string) (rows int64) {
	t.Helper()
	for _, p := range files {
		fh, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := fh.Stat()
		pf, err := parquet.OpenFile(fh, info.Size())
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		rows += pf.NumRows()
		fh.Close()
	}
	return rows
}

func TestWriterCommitsAndRecovers(t *testing.T) {
	f := newFixture(t)
	f.appendEvents(0, 120) // 120 s from 10:59:00: spans hours 10 and 11
	w := f.open()
	if _, _, err := w.readRound(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := w.State()
	if len(st.Files) != 2 {
		t.Fatalf("files = %v, want one per hour (2)", st.Files)
	}
	if st.Offsets[0] != 60 || st.Offsets[1] != 60 || st.Rows != 120 {
		t.Fatalf("offsets %v rows %d, want [60 60] 120", st.Offsets, st.Rows)
	}
	if got := countRows(t, st.Files); got != 120 {
		t.Fatalf("rows in files = %d, want 120", got)
	}

	// An interrupted attempt leaves an unreferenced file; reopening removes it
	// and resumes from the committed offsets.
	f.appendEvents(120, 10)
	if _, _, err := w.readRound(); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(filepath.Dir(st.Files[0]), "orphan.parquet")
	if err := os.WriteFile(orphan, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	w2 := f.open()
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("orphan file survived reopening: %v", err)
	}
	st2 := w2.State()
	if fmt.Sprint(st2.Offsets) != "[60 60]" || len(st2.Files) != 2 || st2.Rows != 120 {
		t.Fatalf("after reopen: offsets %v files %d rows %d", st2.Offsets, len(st2.Files), st2.Rows)
	}
	if _, _, err := w2.readRound(); err != nil {
		t.Fatal(err)
	}
	if err := w2.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st3 := w2.State()
	if fmt.Sprint(st3.Offsets) != "[65 65]" || st3.Rows != 130 {
		t.Fatalf("after second commit: offsets %v rows %d", st3.Offsets, st3.Rows)
	}
	if got := countRows(t, st3.Files); got != 130 {
		t.Fatalf("rows in files = %d, want 130", got)
	}
}

// TestOpenRefusesALogBehindTheTable: a table that committed offsets beyond
// the log's end (another data directory's log, a rebuilt stream) is not
// opened, and the error says what to remove.
func TestOpenRefusesALogBehindTheTable(t *testing.T) {
	f := newFixture(t)
	f.appendEvents(0, 20)
	w := f.open()
	if _, _, err := w.readRound(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The table beside a new, empty log (a data directory whose log was
	// deleted, or a lake copied next to another node's log).
	l, err := pebblelog.Open(filepath.Join(f.dir, "log2"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.EnsureStream("clicks", 2); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), Options{
		Warehouse: filepath.Join(f.dir, "lake"), Table: "clicks", Stream: "clicks", Partitions: 2,
		Schema: f.sc, SchemaVer: 1, EventCol: 0, MaxRows: 1000, MaxBytes: 1 << 20, Interval: time.Second, Log: l,
	})
	want := "or remove " + filepath.Join(f.dir, "lake", Namespace, "clicks") + " to write the table again from this log"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want it to say: %s", err, want)
	}
}

// TestSnapshotsExpire: old snapshots leave the metadata (the newest 10
// stay), every data file and row is still there, and the table reopens
// from its offsets.
func TestSnapshotsExpire(t *testing.T) {
	f := newFixture(t)
	w, err := Open(context.Background(), Options{
		Warehouse: filepath.Join(f.dir, "lake"), Table: "clicks", Stream: "clicks", Partitions: 2,
		Schema: f.sc, SchemaVer: 1, EventCol: 0, MaxRows: 1000, MaxBytes: 1 << 20, Interval: time.Second, Log: f.log,
		SnapshotMaxAge: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	const commits = 25
	for i := range commits {
		f.appendEvents(i*10, 10)
		if _, _, err := w.readRound(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // older than SnapshotMaxAge by the next commit
		if err := w.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	snaps := w.tbl.Metadata().Snapshots()
	if len(snaps) > minSnapshots+1 {
		t.Fatalf("%d snapshots after %d commits, want at most %d", len(snaps), commits, minSnapshots+1)
	}
	st := w.State()
	for _, p := range st.Files {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("a committed data file is gone after expiry: %v", err)
		}
	}
	if got := countRows(t, st.Files); got != commits*10 || st.Rows != commits*10 {
		t.Fatalf("rows: %d in files, %d in the state, want %d", got, st.Rows, commits*10)
	}
	w2 := f.open()
	if st2 := w2.State(); fmt.Sprint(st2.Offsets) != "[125 125]" || st2.Rows != commits*10 || len(st2.Files) != len(st.Files) {
		t.Fatalf("after reopen: offsets %v, rows %d, %d files (want [125 125], %d, %d)", st2.Offsets, st2.Rows, len(st2.Files), commits*10, len(st.Files))
	}
	manifestLists, _ := filepath.Glob(filepath.Join(f.dir, "lake", "weir", "clicks", "metadata", "snap-*.avro"))
	if len(manifestLists) == 0 || len(manifestLists) > minSnapshots+1 {
		t.Fatalf("%d manifest lists left, want at most %d", len(manifestLists), minSnapshots+1)
	}
}
