package node

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/weirhq/weir/internal/lake"
)

// TestCompactionUnderQueries: while the lake table's closed hours are
// compacted in the background, every query sees each record exactly once
// (never the old files and the new ones together, never neither), and the
// table reads the same after a restart.
func TestCompactionUnderQueries(t *testing.T) {
	dir := t.TempDir()
	yaml := eventsYAML(2) + `sinks:
  lake: {type: lake, stream: events, roll: {interval: 100ms}}
`
	cfg := testConfig(t, dir, yaml, nil)
	cfg.CompactInterval = 200 * time.Millisecond
	cfg.Compact = lake.CompactOptions{MinFiles: 2}
	cfg.QueryCacheBytes = -1 // every query reads the files
	n := startWith(t, cfg)
	// 40 posts of 100 events 3.6 s apart: 4000 events over 4 hours, about ten files an hour.
	const posts, per = 40, 100
	var want int64
	for i := range posts {
		var b bytes.Buffer
		for j := range per {
			seq := i*per + j
			want += int64(seq)
			fmt.Fprintf(&b, `{"ts":%d,"seq":%d,"user_id":"u%d"}`+"\n", 1795000000000+int64(seq)*3_600, seq, seq%7)
		}
		if code, _, data := post(t, n, b.Bytes()); code != 200 {
			t.Fatalf("post: %d %s", code, data)
		}
		time.Sleep(110 * time.Millisecond) // a commit (a file per hour) per post, or so
	}
	check := func(what string) {
		t.Helper()
		res, err := n.Query(context.Background(), "SELECT count(*), sum(seq), count(DISTINCT seq) FROM events")
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(res.Rows[0]); got != fmt.Sprintf("[%d %d %d]", posts*per, want, posts*per) {
			t.Fatalf("%s: count, sum, distinct = %s, want [%d %d %d]", what, got, posts*per, want, posts*per)
		}
	}
	// Until the closed hours are one file each: at most the newest hour's
	// ten or so, plus one per closed hour.
	deadline := time.Now().Add(20 * time.Second)
	compacted := func() float64 { return testutil.ToFloat64(n.metrics.Lake.FilesCompacted.WithLabelValues("events")) }
	var files int
	for {
		check("during compaction")
		sk := n.Status().Sinks[0]
		if files = sk.Files; compacted() > 0 && files <= 16 && sk.Lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v files compacted in 20 s, %d files left", compacted(), files)
		}
		time.Sleep(5 * time.Millisecond)
	}
	check("after compaction")
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg.CompactInterval = -1
	n = startWith(t, cfg)
	check("after a restart")
	if st := n.Status(); st.Sinks[0].Files > files { // compaction may have merged more before the stop
		t.Fatalf("%d files after a restart, %d before", st.Sinks[0].Files, files)
	}
}
