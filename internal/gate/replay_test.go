package gate

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
)

// TestReplayAfterSchemaFix: records refused by one schema version pass after
// the schema is fixed and are replayed into the stream exactly once; the
// ones still wrong stay quarantined, and nothing is quarantined twice.
func TestReplayAfterSchemaFix(t *testing.T) {
	l, err := pebblelog.Open(filepath.Join(t.TempDir(), "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	open := func(src string, ver uint32) *Gate {
		sc, err := schema.Compile([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		g, err := New(l, l, []Stream{{Name: "clicks", Schema: sc, Version: ver, KeyCols: []int{1}, Partitions: 4}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	ctx := context.Background()
	g := open(clicksSchema, 1)
	body := strings.Join([]string{
		`{"ts":"2026-11-22T10:00:00Z","user_id":"a","status":200}`,
		`{"ts":"2026-11-22T10:00:01Z","user_id":"b","status":200,"extra":1}`, // 0: passes once "extra" is allowed
		`{"ts":"2026-11-22T10:00:02Z","user_id":"c","status":"x"}`,           // 1: wrong type under both versions
		`{"ts":"2026-11-22T10:00:03Z","user_id":"d","status":201,"extra":2}`, // 2: passes once fixed
		`{"ts":`, // 3: truncated
	}, "\n")
	res, err := g.Ingest(ctx, Request{Stream: "clicks", Format: NDJSON, Body: []byte(body)})
	if err != nil || res.Accepted != 1 || res.Quarantined != 4 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	// Before the fix, a replay accepts nothing and quarantines nothing more.
	r, err := g.Replay(ctx, "clicks", nil)
	if err != nil || r.Accepted != 0 || len(r.Rejected) != 4 {
		t.Fatalf("replay before the fix: %+v %v", r, err)
	}

	fixed := strings.Replace(clicksSchema, `"amount":{"type":["number","null"]}`, `"amount":{"type":["number","null"]},"extra":{"type":"integer"}`, 1)
	g = open(fixed, 2)
	r, err = g.Replay(ctx, "clicks", []int64{0, 1, 0, 99})
	if err != nil {
		t.Fatal(err)
	}
	if r.Accepted != 1 || len(r.Rejected) != 1 || r.Rejected[0].Offset != 1 || !strings.Contains(r.Rejected[0].Reason, "status") ||
		!slices.Equal(r.NotFound, []int64{99}) {
		t.Fatalf("replay of 0, 1, 99: %+v", r)
	}
	if n := logEnd(t, l); n != 2 {
		t.Fatalf("stream holds %d records after replaying one, want 2", n)
	}
	r, err = g.Replay(ctx, "clicks", nil)
	if err != nil || r.Accepted != 1 || r.AlreadyReplayed != 1 || len(r.Rejected) != 2 {
		t.Fatalf("replay of all: %+v %v", r, err)
	}
	r, err = g.Replay(ctx, "clicks", nil)
	if err != nil || r.Accepted != 0 || r.AlreadyReplayed != 2 {
		t.Fatalf("second replay of all: %+v %v", r, err)
	}
	if n := logEnd(t, l); n != 3 {
		t.Fatalf("stream holds %d records, want 3: each replayed record once", n)
	}
	q, err := g.ListQuarantine("clicks", 10)
	if err != nil || len(q) != 4 {
		t.Fatalf("quarantine after replay: %d records, %v; want all 4 kept", len(q), err)
	}
	var replayed []int64
	for _, rec := range q {
		if rec.Replayed {
			replayed = append(replayed, rec.Offset)
		}
	}
	if !slices.Equal(replayed, []int64{0, 2}) {
		t.Fatalf("listed as replayed: %v, want [0 2]", replayed)
	}
	if _, err := g.Replay(ctx, "nope", nil); !errors.Is(err, ErrUnknownStream) {
		t.Fatalf("unknown stream: %v", err)
	}
}
