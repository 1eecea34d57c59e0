package view

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/sql/parse"
)

// randomEvents makes events of the test stream whose times advance by up
// to step ms, each less than the disorder bound behind the newest: no
// record is late.
type randomEvents struct {
	rng      *rand.Rand
	base     int64 // ms
	users    int
	step     int
	disorder time.Duration
	clock    int64
	total    int
}

func newRandomEvents(rng *rand.Rand, users, step int, disorder time.Duration) *randomEvents {
	return &randomEvents{rng: rng, base: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC).UnixMilli(), users: users, step: step, disorder: disorder}
}

// ingest posts events seq from..to-1 through the gate.
func (e *randomEvents) ingest(t *testing.T, n *node, from, to int) {
	t.Helper()
	var body strings.Builder
	for seq := from; seq < to; seq++ {
		e.clock += int64(e.rng.IntN(e.step))
		ts := e.clock - int64(e.rng.IntN(int(e.disorder.Milliseconds())))
		fmt.Fprintf(&body, `{"ts":%d,"seq":%d,"user_id":"u%d","status":%d}`+"\n", e.base+ts, seq, e.rng.IntN(e.users), 200+e.rng.IntN(300))
		e.total++
	}
	if res, err := n.gate.Ingest(context.Background(), gate.Request{Stream: "events", Format: gate.NDJSON, Body: []byte(body.String())}); err != nil || res.Quarantined != 0 {
		t.Fatalf("%v %+v", err, res)
	}
}

// caughtUp waits until the view has read in() records and its watermark
// is wantWm, and fails if it kept any record as late.
func (n *node) caughtUp(t *testing.T, view string, in func() int64, wantWm string, deadline time.Time) {
	t.Helper()
	for {
		st := n.showView(t, view)
		if st["rows_in"] == in() && st["watermark"] == wantWm {
			if st["late_kept"] != int64(0) {
				t.Fatalf("%s: %v late records in a stream without late records", view, st["late_kept"])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("view %s did not catch up: %v (want rows_in %d, watermark %s)", view, st, in(), wantWm)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// refuses fails unless each statement (SQL, then what its error must
// say) is refused with that error.
func (n *node) refuses(t *testing.T, cases [][2]string) {
	t.Helper()
	for _, c := range cases {
		st, err := parse.Parse(c[0])
		if err != nil {
			t.Fatalf("%s: %v", c[0], err)
		}
		if _, err := n.views.Exec(context.Background(), st); err == nil || !strings.Contains(err.Error(), c[1]) {
			t.Fatalf("%s: got %v, want an error saying %q", c[0], err, c[1])
		}
	}
}

// matches fails unless the rows of query view equal those of oracle, and
// there are some; setup describes the run for the message.
func (n *node) matches(t *testing.T, name, view, oracle, setup string) {
	t.Helper()
	got, want := rowsText(n.exec(t, view)), rowsText(n.exec(t, oracle))
	if !slices.Equal(got, want) {
		t.Fatalf("%s differs from the batch oracle (%s):\n%s", name, setup, firstDiff(want, got))
	}
	if len(got) == 0 {
		t.Fatalf("%s: no rows to compare", name)
	}
}
