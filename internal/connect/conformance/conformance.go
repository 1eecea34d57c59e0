// Package conformance is the test suite every source connector runs
// against its real peer: records delivered to the peer reach the stream
// exactly once — across stops and restarts, a crash after any ingest, a
// gate that refuses batches for a while, concurrent deliveries and (where
// the connector can) the peer going away and coming back — and every bad
// record lands in the quarantine, so received = accepted + quarantined.
//
// A connector's test calls Run with a Peer: how to configure the source,
// and how to deliver records to what it reads (write files, produce to a
// topic). The suite owns a real gate over a real Pebble log and checks
// the log against the records delivered.
//
// This package is for tests; it uses the connector API, the gate and the
// embedded log, never the node.
package conformance

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/gate"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
)

// Stream is the suite's stream; its schema is Schema.
const Stream = "events"

// Schema is the stream's JSON Schema: an id (the record's number), an
// event time and a body.
const Schema = `{"type":"object","required":["id","ts","body"],"additionalProperties":false,
 "properties":{"id":{"type":"integer"},"ts":{"type":["string","integer"],"format":"date-time"},"body":{"type":"string"}}}`

const partitions = 3

// Bad reports whether record i is one the schema rejects (every 50th).
func Bad(i int) bool { return i%50 == 7 }

// Record is record i as JSON.
func Record(i int) []byte {
	if Bad(i) {
		return fmt.Appendf(nil, `{"id":"not a number %d","ts":%d,"body":"bad"}`, i, 1795000000000+int64(i))
	}
	return fmt.Appendf(nil, `{"id":%d,"ts":%d,"body":"record %d, with \"quotes\" and a comma"}`, i, 1795000000000+int64(i), i)
}

// Peer is the connector's side of the suite.
type Peer struct {
	// Type is the connector type, as registered.
	Type string
	// Settings configure a source that reads what Deliver delivers, sending
	// at most batch records per ingest. dir is the pipeline directory.
	// Every source the suite builds for one Peer gets the same settings.
	Settings func(t testing.TB, dir string, batch int) spec.Values
	// Deliver hands records [from, to) (Record(i) each) to the peer. It
	// may be called from several goroutines at once.
	Deliver func(t testing.TB, from, to int)
	// Disrupt, when set, takes the peer away and brings it back (a broker
	// restart) while the source runs.
	Disrupt func(t testing.TB)
	// AtLeastOnce: the connector promises at least once (MQTT: no offsets
	// to store with the records), so a crash may repeat records; the suite
	// then checks that none is lost instead of none repeated.
	AtLeastOnce bool
}

// Run runs the suite; newPeer makes a fresh peer (a new topic, a new
// directory) for each case.
func Run(t *testing.T, newPeer func(t *testing.T) Peer) {
	t.Run("deliver and close", func(t *testing.T) {
		h := newHarness(t, newPeer(t))
		h.peer.Deliver(t, 0, 500)
		stop := h.start(h.gate)
		h.wait(500)
		stop() // Run must return promptly and cleanly
		h.check(500)
	})
	t.Run("resume after a stop", func(t *testing.T) {
		h := newHarness(t, newPeer(t))
		h.peer.Deliver(t, 0, 300)
		stop := h.start(h.gate)
		h.wait(300)
		stop()
		h.peer.Deliver(t, 300, 600) // while no source runs
		stop = h.start(h.gate)
		h.wait(600)
		stop()
		h.check(600)
	})
	for _, crashAt := range []int64{1, 3} {
		t.Run(fmt.Sprintf("crash after ingest %d", crashAt), func(t *testing.T) {
			h := newHarness(t, newPeer(t))
			for i := range 4 {
				h.peer.Deliver(t, i*250, (i+1)*250)
			}
			crash := &crashAfter{g: h.gate, n: crashAt}
			stop := h.start(crash)
			select {
			case <-crash.crashed:
			case <-time.After(30 * time.Second):
				t.Fatalf("no crash after %d ingests: %d ingests seen", crashAt, crash.calls.Load())
			}
			stop()
			stop = h.start(h.gate)
			h.wait(1000)
			stop()
			h.check(1000)
		})
	}
	t.Run("gate refuses for a while", func(t *testing.T) {
		h := newHarness(t, newPeer(t))
		h.peer.Deliver(t, 0, 400)
		stop := h.start(&refusing{g: h.gate, errs: []error{gate.ErrOverloaded, gate.ErrBacklog, gate.ErrUnavailable, gate.ErrOverloaded}})
		h.wait(400)
		stop()
		h.check(400)
	})
	t.Run("concurrent deliveries", func(t *testing.T) {
		h := newHarness(t, newPeer(t))
		stop := h.start(h.gate)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 5 {
					from := (w*5 + i) * 40
					h.peer.Deliver(t, from, from+40)
				}
			}()
		}
		wg.Wait()
		h.wait(800)
		stop()
		h.check(800)
	})
	if p := newPeer(t); p.Disrupt != nil { // a directory does not go away; a broker does
		t.Run("peer goes away and comes back", func(t *testing.T) {
			h := newHarness(t, p)
			stop := h.start(h.gate)
			h.peer.Deliver(t, 0, 200)
			h.wait(200)
			h.peer.Disrupt(t)
			h.peer.Deliver(t, 200, 400)
			h.wait(400)
			stop()
			h.check(400)
		})
	}
}

// harness is a real gate over a real log, and a way to run sources.
type harness struct {
	t        testing.TB
	peer     Peer
	dir      string
	log      *pebblelog.Log
	gate     *gate.Gate
	sc       *schema.Schema
	settings spec.Values
	metrics  *connect.Metrics
}

func newHarness(t testing.TB, p Peer) *harness {
	t.Helper()
	dir := t.TempDir()
	l, err := pebblelog.Open(filepath.Join(dir, "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	sc, err := schema.Compile([]byte(Schema))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gate.New(l, l, []gate.Stream{{Name: Stream, Schema: sc, Version: 1, KeyCols: []int{sc.ColumnIndex("id")}, Partitions: partitions}}, gate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, peer: p, dir: dir, log: l, gate: g, sc: sc, metrics: connect.NewMetrics(prometheus.NewRegistry())}
	h.settings = p.Settings(t, dir, 100)
	return h
}

// start runs a new source over ing; stop cancels it and checks that Run
// returns nil within 10 s.
func (h *harness) start(ing connect.Ingester) (stop func()) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if c, ok := ing.(*crashAfter); ok {
		c.cancel = cancel
		c.crashed = make(chan struct{})
	}
	src, err := connect.Open(h.peer.Type, h.settings, connect.Env{Name: "conformance", Stream: Stream, Gate: ing, Meta: h.log,
		Dir: h.dir, Schema: h.sc, Key: []int{h.sc.ColumnIndex("id")}, Ends: h.ends, Metrics: h.metrics})
	if err != nil {
		h.t.Fatal(err)
	}
	return runUntilStopped(h.t, ctx, cancel, src.Run, 10*time.Second)
}

func (h *harness) ends() ([]int64, error) {
	out := make([]int64, partitions)
	for p := range out {
		e, err := h.log.End(Stream, p)
		if err != nil {
			return nil, err
		}
		out[p] = e
	}
	return out, nil
}

// counts reads how many records the stream and its quarantine hold.
func (h *harness) counts() (accepted, quarantined int64) {
	h.t.Helper()
	ends, err := h.ends()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range ends {
		accepted += e
	}
	q, err := h.log.End(gate.QuarantineStream(Stream), 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return accepted, q
}

// wait waits until records 0..n-1 are in the stream or its quarantine
// (counting them; at least once, each of them, as repeats count too).
func (h *harness) wait(n int) {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		a, q := h.counts()
		if a+q >= int64(n) {
			if !h.peer.AtLeastOnce {
				return
			}
			seen, quarantined := h.tally(n)
			all := true
			for i := range n {
				if seen[i]+quarantined[i] == 0 {
					all = false
					break
				}
			}
			if all {
				return
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("after 60 s: %d accepted + %d quarantined of %d delivered", a, q, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tally counts, for records 0..n-1, how often each is in the stream and
// how often in the quarantine.
func (h *harness) tally(n int) (seen, quarantined []int) {
	h.t.Helper()
	seen, quarantined = make([]int, n), make([]int, n)
	col := h.sc.ColumnIndex("id")
	EachRow(h.t, h.log, Stream, partitions, h.sc.Columns, func(vals []schema.Value) {
		id := vals[col].Int
		if id < 0 || id >= int64(n) {
			h.t.Fatalf("record %d in the stream was never delivered", id)
		}
		seen[id]++
	})
	_, nq := h.counts()
	q, err := h.gate.ListQuarantine(Stream, int(nq))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range q {
		if r.Origin == "" || r.Source == "" || len(r.Raw) == 0 || r.Field != "id" {
			h.t.Fatalf("quarantine record %+v: want its source, its origin in the peer, its raw bytes and the field that failed (id)", r)
		}
		var id int
		at := strings.Index(string(r.Raw), "not a number")
		if at < 0 {
			h.t.Fatalf("quarantined %q was never delivered as a bad record", r.Raw)
		}
		if _, err := fmt.Sscanf(string(r.Raw[at:]), "not a number %d", &id); err != nil || id < 0 || id >= n || !Bad(id) {
			h.t.Fatalf("quarantined %q was never delivered as a bad record", r.Raw)
		}
		quarantined[id]++
	}
	return seen, quarantined
}

// EachRow calls fn with every record of a stream in the log, decoded in
// the columns cols, partition by partition (tests read what a source
// wrote with it).
func EachRow(t testing.TB, l wlog.Log, stream string, partitions int, cols []schema.Column, fn func(vals []schema.Value)) {
	t.Helper()
	for p := range partitions {
		end, _ := l.End(stream, p)
		for from := int64(0); from < end; {
			bs, err := l.Read(stream, p, from, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for i := range bs {
				err := bs[i].Records(func(_ int64, rec []byte) bool {
					vals, err := schema.DecodeRow(cols, rec, nil)
					if err != nil {
						t.Fatal(err)
					}
					fn(vals)
					return true
				})
				if err != nil {
					t.Fatal(err)
				}
				from = bs[i].End()
			}
		}
	}
}

// check: records 0..n-1 each once — the good ones in the stream, the bad
// ones in the quarantine — and nothing else (at least once: each at least
// once).
func (h *harness) check(n int) {
	h.t.Helper()
	seen, quarantined := h.tally(n)
	for i := range n {
		got := seen[i]
		if Bad(i) {
			if seen[i] != 0 {
				h.t.Fatalf("bad record %d accepted", i)
			}
			got = quarantined[i]
		}
		if got < 1 || (got > 1 && !h.peer.AtLeastOnce) {
			h.t.Fatalf("record %d is in the stream or quarantine %d times, want once", i, got)
		}
	}
}

// crashAfter passes n ingests to the gate, then ends the source's context
// and fails, as a process killed right after its nth durable write.
type crashAfter struct {
	g       *gate.Gate
	n       int64
	cancel  context.CancelFunc
	crashed chan struct{}
	calls   atomic.Int64
	once    sync.Once
}

func (c *crashAfter) Ingest(ctx context.Context, req gate.Request) (gate.Result, error) {
	if c.calls.Load() >= c.n {
		return gate.Result{}, context.Canceled // dead: nothing more is written
	}
	res, err := c.g.Ingest(ctx, req)
	if c.calls.Add(1) >= c.n {
		c.once.Do(func() { c.cancel(); close(c.crashed) })
		return gate.Result{}, context.Canceled
	}
	return res, err
}

// refusing fails the first ingests with the given errors (nothing
// written), then passes the rest to the gate.
type refusing struct {
	g    *gate.Gate
	mu   sync.Mutex
	errs []error
}

func (r *refusing) Ingest(ctx context.Context, req gate.Request) (gate.Result, error) {
	r.mu.Lock()
	if len(r.errs) > 0 {
		err := r.errs[0]
		r.errs = r.errs[1:]
		r.mu.Unlock()
		return gate.Result{}, err
	}
	r.mu.Unlock()
	return r.g.Ingest(ctx, req)
}

// Harness is the suite's rig for a connector's own tests: a real gate and
// log, sources run over them, and the same checks.
type Harness struct{ h *harness }

// NewHarness makes a harness for a peer.
func NewHarness(t *testing.T, p Peer) Harness { return Harness{newHarness(t, p)} }

// NewHarnessTB is NewHarness for benchmarks.
func NewHarnessTB(t testing.TB, p Peer) Harness { return Harness{newHarness(t, p)} }

// StartRefusing runs a source whose ingests the gate refuses (backlog,
// overload) for d, then takes.
func (h Harness) StartRefusing(d time.Duration) (stop func()) {
	return h.h.start(&refusingFor{g: h.h.gate, until: time.Now().Add(d)})
}

// Metrics are the sources' metrics of the harness.
func (h Harness) Metrics() *connect.Metrics { return h.h.metrics }

// Wait waits until records 0..n-1 arrived; Check checks them.
func (h Harness) Wait(n int)  { h.h.wait(n) }
func (h Harness) Check(n int) { h.h.check(n) }

// Tally counts how often each of records 0..n-1 is in the stream and in
// the quarantine.
func (h Harness) Tally(n int) (seen, quarantined []int) { return h.h.tally(n) }

// WaitCount waits until the stream and quarantine hold n records.
func (h Harness) WaitCount(n int) {
	for {
		if a, q := h.h.counts(); a+q >= int64(n) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// refusingFor refuses every ingest until a time.
type refusingFor struct {
	g     *gate.Gate
	until time.Time
}

func (r *refusingFor) Ingest(ctx context.Context, req gate.Request) (gate.Result, error) {
	if time.Now().Before(r.until) {
		return gate.Result{}, gate.ErrBacklog
	}
	return r.g.Ingest(ctx, req)
}

// SinkPeer is a sink connector's side of the sink suite.
type SinkPeer struct {
	// Type is the connector type, as registered.
	Type string
	// Settings configure a sink that writes the suite's stream to the
	// peer, at most batch records at a time. Every sink built for one
	// SinkPeer gets the same settings (so the same identity in the peer).
	Settings func(t testing.TB, batch int) spec.Values
	// Received reads back what the peer holds, as its readers would see it
	// (committed only): how many times each record id is there.
	Received func(t testing.TB) map[int64]int
	// Disrupt, when set, takes the peer away and brings it back.
	Disrupt func(t testing.TB)
	// AtLeastOnce: a stop may repeat records in the peer.
	AtLeastOnce bool
}

// RunSink runs the suite for a sink; newPeer makes a fresh peer (a new
// topic, table or endpoint) for each case.
func RunSink(t *testing.T, newPeer func(t *testing.T) SinkPeer) {
	t.Run("drain", func(t *testing.T) {
		h := newSinkHarness(t, newPeer(t))
		h.ingest(0, 500)
		h.drain(h.startSink())
		h.check(500)
	})
	t.Run("stop and resume", func(t *testing.T) {
		h := newSinkHarness(t, newPeer(t))
		h.ingest(0, 300)
		h.drain(h.startSink())
		h.ingest(300, 600)
		h.drain(h.startSink())
		h.check(600)
	})
	t.Run("stopped at random moments", func(t *testing.T) {
		h := newSinkHarness(t, newPeer(t))
		n := 0
		for i := range 6 {
			stop := h.startSink()
			for range 3 {
				h.ingest(n, n+120)
				n += 120
				time.Sleep(time.Duration(5+17*i%40) * time.Millisecond)
			}
			stop() // mid-batch, mid-transaction or idle
		}
		h.drain(h.startSink())
		h.check(n)
	})
	if p := newPeer(t); p.Disrupt != nil {
		t.Run("peer goes away and comes back", func(t *testing.T) {
			h := newSinkHarness(t, p)
			stop := h.startSink()
			h.ingest(0, 200)
			h.peer.Disrupt(t)
			h.ingest(200, 400)
			stop()
			h.drain(h.startSink())
			h.check(400)
		})
	}
}

// sinkHarness is a stream in a real log, fed through the gate, and sinks
// run over it.
type sinkHarness struct {
	*harness
	peer     SinkPeer
	name     string // the sink's name, new per case, so its identity in the peer is too
	settings spec.Values
	sinks    []connect.Sink
}

var sinkCases atomic.Int64

func newSinkHarness(t *testing.T, p SinkPeer) *sinkHarness {
	h := &sinkHarness{harness: newHarness(t, Peer{Type: p.Type, Settings: func(testing.TB, string, int) spec.Values { return nil }}), peer: p,
		name: fmt.Sprintf("conformance_%d", sinkCases.Add(1))}
	h.settings = p.Settings(t, 100)
	return h
}

func (h *sinkHarness) ingest(from, to int) {
	h.t.Helper()
	var recs [][]byte
	for i := from; i < to; i++ {
		recs = append(recs, Record(i))
	}
	if _, err := h.gate.Ingest(context.Background(), gate.Request{Stream: Stream, Format: gate.Records, Records: recs}); err != nil {
		h.t.Fatal(err)
	}
}

// openSink builds a sink of the peer's type over the stream.
func (h *sinkHarness) openSink() (connect.Sink, error) {
	return connect.OpenSink(h.peer.Type, h.settings, connect.SinkEnv{Name: h.name, Stream: Stream, Partitions: partitions,
		Log: h.log, Meta: h.log, Schema: h.sc, Key: []int{h.sc.ColumnIndex("id")},
		SchemaFor: func(uint32) (*schema.Schema, error) { return h.sc, nil }})
}

// startSink runs a new sink; stop ends it and checks it returned nil.
func (h *sinkHarness) startSink() (stop func()) {
	h.t.Helper()
	s, err := h.openSink()
	if err != nil {
		h.t.Fatal(err)
	}
	h.sinks = append(h.sinks, s)
	ctx, cancel := context.WithCancel(context.Background())
	return runUntilStopped(h.t, ctx, cancel, s.Run, 30*time.Second)
}

// drain waits until the latest sink has committed the whole stream, then
// stops it.
func (h *sinkHarness) drain(stop func()) {
	h.t.Helper()
	s := h.sinks[len(h.sinks)-1]
	deadline := time.Now().Add(60 * time.Second)
	for {
		c := s.Committed()
		ends, _ := h.ends()
		done := c != nil
		for p := range ends {
			if done && c[p] < ends[p] {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("after 60 s the sink has committed %v of %v", c, ends)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
}

// check: every good record of 0..n-1 in the peer once (at least once),
// no bad one, nothing else.
func (h *sinkHarness) check(n int) {
	h.t.Helper()
	got := h.peer.Received(h.t)
	for i := range n {
		c := got[int64(i)]
		switch {
		case Bad(i) && c != 0:
			h.t.Fatalf("bad record %d reached the peer", i)
		case !Bad(i) && (c < 1 || (c > 1 && !h.peer.AtLeastOnce)):
			h.t.Fatalf("record %d is in the peer %d times, want once", i, c)
		}
	}
	for id := range got {
		if id < 0 || id >= int64(n) {
			h.t.Fatalf("the peer holds record %d, never sent", id)
		}
	}
}

// SinkHarness is the sink suite's rig for a connector's own tests.
type SinkHarness struct{ h *sinkHarness }

// NewSinkHarness makes a sink harness for a peer.
func NewSinkHarness(t *testing.T, p SinkPeer) SinkHarness { return SinkHarness{newSinkHarness(t, p)} }

// Ingest puts records [from, to) into the stream (the bad ones into its
// quarantine).
func (h SinkHarness) Ingest(from, to int) { h.h.ingest(from, to) }

// RunUntilError runs a sink until it returns, or d passes (then nil).
func (h SinkHarness) RunUntilError(d time.Duration) error {
	h.h.t.Helper()
	s, err := h.h.openSink()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Run(ctx)
}

// runUntilStopped starts run in the background and returns the function
// that stops it: it cancels ctx and requires run to return nil within
// limit, as the Source and Sink contracts say.
func runUntilStopped(t testing.TB, ctx context.Context, cancel context.CancelFunc, run func(context.Context) error, limit time.Duration) func() {
	errc := make(chan error, 1)
	go func() { errc <- run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("Run returned %v after its context ended, want nil", err)
			}
		case <-time.After(limit):
			t.Fatalf("Run did not return within %v of its context ending", limit)
		}
	}
}
