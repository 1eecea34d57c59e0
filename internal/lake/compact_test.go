package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/schema"
)

// rowsOf reads every row of files as text, sorted: the table's content as a
// multiset, whatever the file layout.
func rowsOf(t *testing.T, f *fixture, files []string) []string {
	t.Helper()
	c := &columns{cols: make([]colVec, len(f.sc.Columns))}
	for _, p := range files {
		if err := readParquet(p, f.sc.Columns, c); err != nil {
			t.Fatal(err)
		}
	}
	out := make([]string, c.n)
	for i := range c.n {
		var b strings.Builder
		for ci, col := range f.sc.Columns {
			cv := &c.cols[ci]
			switch {
			case cv.isNull(i):
				b.WriteString("null")
			case col.Type == schema.String:
				b.Write(cv.str(i))
			case col.Type == schema.Float64:
				fmt.Fprint(&b, cv.floats[i])
			default:
				fmt.Fprint(&b, cv.ints[i])
			}
			b.WriteByte('|')
		}
		out[i] = b.String()
	}
	slices.Sort(out)
	return out
}

// TestCompaction: the small files of every closed hour become one file
// sorted by event time; the table keeps exactly its rows and offsets, in one
// new snapshot; the replaced files stay for the older snapshots; appends
// and reopening go on as before.
func TestCompaction(t *testing.T) {
	f := newFixture(t)
	w := f.open()
	ctx := context.Background()
	for i := range 30 { // 400 s a commit from 10:59: hours 10..14
		f.appendEvents(i*400, 400)
		if _, _, err := w.readRound(); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	before := w.State()
	want := rowsOf(t, f, before.Files)
	if len(want) != 12000 {
		t.Fatalf("%d rows before compaction", len(want))
	}
	perHour := func(files []string) map[string]int {
		m := map[string]int{}
		for _, p := range files {
			m[filepath.Base(filepath.Dir(p))]++
		}
		return m
	}
	res, err := w.Compact(ctx, CompactOptions{MinFiles: 4, RowGroupRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	after := w.State()
	hours := perHour(after.Files)
	t.Logf("before %v, after %v, %+v", perHour(before.Files), hours, res)
	for _, h := range []string{"ts_hour=2026-11-22-11", "ts_hour=2026-11-22-12", "ts_hour=2026-11-22-13"} {
		if hours[h] != 1 {
			t.Fatalf("hour %s has %d files after compaction, want 1", h, hours[h])
		}
	}
	if hours["ts_hour=2026-11-22-14"] == 1 || hours["ts_hour=2026-11-22-10"] != 1 {
		t.Fatalf("the newest hour (still written) was compacted, or the one-file hour changed: %v", hours)
	}
	if res.Hours != 3 || res.FilesOut != 3 || res.FilesIn < 3*8 {
		t.Fatalf("result %+v", res)
	}
	if got := rowsOf(t, f, after.Files); !slices.Equal(got, want) {
		t.Fatalf("compaction changed the rows: %d before, %d after", len(want), len(got))
	}
	if fmt.Sprint(after.Offsets) != fmt.Sprint(before.Offsets) || after.Rows != before.Rows || after.SnapshotID == before.SnapshotID {
		t.Fatalf("state after %+v, before %+v", after, before)
	}
	snap := w.tbl.CurrentSnapshot()
	if snap.Summary.Properties[PropOffsets] != "[6000,6000]" || snap.Summary.Properties[PropCompacted] == "" {
		t.Fatalf("compaction snapshot summary %v", snap.Summary.Properties)
	}
	for _, p := range after.Files {
		if !strings.Contains(p, "compact-") {
			continue
		}
		c := &columns{cols: make([]colVec, len(f.sc.Columns))}
		if err := readParquet(p, f.sc.Columns, c); err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(c.cols[0].ints) {
			t.Fatalf("%s is not sorted by event time", p)
		}
	}
	// The replaced files stay for the snapshots before; reopening keeps
	// them and resumes from the same offsets.
	for _, p := range before.Files {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("a replaced file is gone while older snapshots reference it: %v", err)
		}
	}
	w2 := f.open()
	if st := w2.State(); fmt.Sprint(st.Offsets) != "[6000 6000]" || st.Rows != 12000 || len(st.Files) != len(after.Files) {
		t.Fatalf("after reopen: %+v", st)
	}
	for _, p := range before.Files {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("reopening removed a file an older snapshot references: %v", err)
		}
	}
	f.appendEvents(12000, 100)
	if _, _, err := w2.readRound(); err != nil {
		t.Fatal(err)
	}
	if err := w2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := w2.State(); st.Rows != 12100 || len(rowsOf(t, f, st.Files)) != 12100 {
		t.Fatalf("append after compaction: %d rows", st.Rows)
	}
	if res, err := w2.Compact(ctx, CompactOptions{MinFiles: 4}); err != nil || res.FilesIn != 0 {
		t.Fatalf("a second compaction with nothing to merge: %+v %v", res, err)
	}
}
