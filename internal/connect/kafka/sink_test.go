package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/conformance"
	"github.com/weirhq/weir/internal/connect/kafka/kafkatest"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
)

// sinkRig is a stream in a real log, fed through the gate.
type sinkRig struct {
	t    testing.TB
	log  *pebblelog.Log
	gate *gate.Gate
	sc   *schema.Schema
}

func newSinkRig(t testing.TB) *sinkRig {
	l, err := pebblelog.Open(filepath.Join(t.TempDir(), "log"), pebblelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	sc, err := schema.Compile([]byte(conformance.Schema))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gate.New(l, l, []gate.Stream{{Name: "events", Schema: sc, Version: 1, KeyCols: []int{0}, Partitions: 3}}, gate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &sinkRig{t: t, log: l, gate: g, sc: sc}
}

// ingest puts the good records of [from, to) into the stream.
func (r *sinkRig) ingest(from, to int) {
	var recs [][]byte
	for i := from; i < to; i++ {
		if !conformance.Bad(i) {
			recs = append(recs, conformance.Record(i))
		}
	}
	if _, err := r.gate.Ingest(context.Background(), gate.Request{Stream: "events", Format: gate.Records, Records: recs}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *sinkRig) sink(v spec.Values) connect.Sink {
	r.t.Helper()
	s, err := NewSink(v, connect.SinkEnv{Name: "out", Stream: "events", Partitions: 3, Log: r.log, Schema: r.sc, Key: []int{r.sc.ColumnIndex("id")},
		SchemaFor: func(uint32) (*schema.Schema, error) { return r.sc, nil }})
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func sinkSettings(broker, topic string, over map[string]any) spec.Values {
	v := spec.Values{"brokers": []string{broker}, "topic": topic, "delivery": "exactly_once", "positions_topic": "weir-sink-positions",
		"max_batch": int64(500), "linger": 20 * time.Millisecond, "client_id": "weir-test"}
	for k, x := range over {
		v[k] = x
	}
	return v
}

// committedIDs reads the topic as a read_committed consumer: how many
// times each id arrived.
func committedIDs(t *testing.T, broker, topic string) map[int]int {
	t.Helper()
	ids := map[int]int{}
	for _, r := range kafkatest.ReadCommitted(t, broker, topic) {
		var v struct{ ID int }
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("value %q: %v", r.Value, err)
		}
		if string(r.Key) != fmt.Sprint(v.ID) {
			t.Fatalf("record %d has key %q", v.ID, r.Key)
		}
		ids[v.ID]++
	}
	return ids
}

func checkOnce(t *testing.T, ids map[int]int, n int) {
	t.Helper()
	for i := range n {
		want := 1
		if conformance.Bad(i) {
			want = 0
		}
		if ids[i] != want {
			t.Fatalf("id %d committed %d times, want %d", i, ids[i], want)
		}
	}
	if len(ids) > n {
		t.Fatalf("%d ids committed, want at most %d", len(ids), n)
	}
}

// TestKafkaSinkExactlyOnce: a stream written to a topic through sinks that
// are stopped at random moments (mid-transaction too), a broker SIGKILLed
// and restarted, and records arriving all along: a read_committed consumer
// sees each event exactly once.
func TestKafkaSinkExactlyOnce(t *testing.T) {
	b := kafkatest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 4, 1, nil, "out"); err != nil {
		t.Fatal(err)
	}
	r := newSinkRig(t)
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 2))
	t.Logf("seed %d", seed)
	n := 0
	run := func(d time.Duration) {
		s := r.sink(sinkSettings(b.Addr, "out", nil))
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- s.Run(ctx) }()
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			r.ingest(n, n+300)
			n += 300
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		}
		cancel()
		if err := <-errc; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	for range 5 {
		run(time.Duration(100+rng.IntN(400)) * time.Millisecond)
	}
	b.Stop()
	r.ingest(n, n+1000) // while the broker is down
	n += 1000
	go func() { time.Sleep(time.Second); b.Restart() }()
	run(3 * time.Second)

	// A last sink drains the stream; then every event is in the topic once.
	s := r.sink(sinkSettings(b.Addr, "out", nil))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c := s.Committed()
		total := int64(0)
		for p := range c {
			end, _ := r.log.End("events", p)
			total += end - c[p]
		}
		if c != nil && total == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink committed %v, stream has more", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	checkOnce(t, committedIDs(t, b.Addr, "out"), n)
}

// Two sinks with one transactional id: the newer fences the older, which
// stops with an error that says why, never writing twice.
func TestKafkaSinkFenced(t *testing.T) {
	b := kafkatest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 2, 1, nil, "fenced"); err != nil {
		t.Fatal(err)
	}
	r := newSinkRig(t)
	r.ingest(0, 200)
	older := r.sink(sinkSettings(b.Addr, "fenced", nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errOlder := make(chan error, 1)
	go func() { errOlder <- older.Run(ctx) }()
	for older.Committed() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	newer := r.sink(sinkSettings(b.Addr, "fenced", nil))
	errNewer := make(chan error, 1)
	go func() { errNewer <- newer.Run(ctx) }()
	for newer.Committed() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	r.ingest(200, 400) // both try to write these; one is fenced for good
	var survivor connect.Sink
	select {
	case err := <-errOlder:
		survivor = newer
		if !errors.Is(err, connect.ErrFatal) || !strings.Contains(err.Error(), "two sinks share the id") {
			t.Fatalf("older sink: %v, want a fatal error saying two sinks share the id", err)
		}
		t.Logf("older sink stopped: %v", err)
	case err := <-errNewer:
		survivor = older
		if !errors.Is(err, connect.ErrFatal) || !strings.Contains(err.Error(), "two sinks share the id") {
			t.Fatalf("newer sink: %v, want a fatal error saying two sinks share the id", err)
		}
		t.Logf("newer sink stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("neither sink stopped: two sinks share one transactional id")
	}
	deadline := time.Now().Add(30 * time.Second)
	for c := survivor.Committed(); c[0]+c[1]+c[2] < 392; c = survivor.Committed() { // 400 minus 8 bad
		if time.Now().After(deadline) {
			t.Fatalf("the remaining sink committed %v", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkOnce(t, committedIDs(t, b.Addr, "fenced"), 400)
}

// BenchmarkKafkaSink: 300k events from Weir's log to a topic of a real
// broker in transactions of 10k, to committed.
//
//	go test -run='^$' -bench=BenchmarkKafkaSink -benchtime=3x ./internal/connect/kafka/
func BenchmarkKafkaSink(b *testing.B) {
	const total = 300_000
	br := kafkatest.Start(b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	r := newSinkRig(b)
	for from := 0; from < total; from += 5000 {
		r.ingest(from, from+5000)
	}
	var sent int64
	for p := range 3 {
		e, _ := r.log.End("events", p)
		sent += e
	}
	i := 0
	for _, delivery := range []string{"exactly_once", "at_least_once"} {
		b.Run(delivery, func(b *testing.B) {
			for b.Loop() {
				i++
				benchSink(b, r, br.Addr, cl, fmt.Sprintf("bench-%d", i), delivery, sent)
			}
			b.ReportMetric(float64(sent)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func benchSink(b *testing.B, r *sinkRig, addr string, cl *kgo.Client, topic, delivery string, sent int64) {
	{
		if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 4, 1, nil, topic); err != nil {
			b.Fatal(err)
		}
		s := r.sink(sinkSettings(addr, topic, map[string]any{"max_batch": int64(10_000), "transactional_id": topic, "delivery": delivery}))
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- s.Run(ctx) }()
		for {
			c := s.Committed()
			if c != nil && c[0]+c[1]+c[2] == sent {
				break
			}
			time.Sleep(time.Millisecond)
		}
		cancel()
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKafkaProduceBaseline: the same events, already JSON, produced
// by a plain franz-go client (no transactions) to the same kind of broker:
// what the sink is measured against.
func BenchmarkKafkaProduceBaseline(b *testing.B) {
	const total = 300_000
	br := kafkatest.Start(b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr), kgo.ProducerBatchMaxBytes(4<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	vals := make([][]byte, total)
	for i := range vals {
		vals[i] = []byte(fmt.Sprintf(`{"id":%d,"ts":"2026-11-18T10:13:20.%06dZ","body":"record %d, with \"quotes\" and a comma"}`, i, i%1000000, i))
	}
	i := 0
	for b.Loop() {
		i++
		topic := fmt.Sprintf("baseline-%d", i)
		if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 4, 1, nil, topic); err != nil {
			b.Fatal(err)
		}
		for from := 0; from < total; from += 10_000 {
			recs := make([]*kgo.Record, 0, 10_000)
			for j := from; j < from+10_000; j++ {
				recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(j)), Value: vals[j]})
			}
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestSinkConformance: the shared sink suite against a real broker, a new
// topic per case, the broker SIGKILLed and restarted in the disruption
// case.
func TestSinkConformance(t *testing.T) {
	b := kafkatest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	conformance.RunSink(t, func(t *testing.T) conformance.SinkPeer {
		n++
		topic := fmt.Sprintf("sink-conformance-%d", n)
		if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 3, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		return conformance.SinkPeer{
			Type: "kafka",
			Settings: func(t testing.TB, batch int) spec.Values {
				return sinkSettings(b.Addr, topic, map[string]any{"max_batch": int64(batch)})
			},
			Received: func(t testing.TB) map[int64]int {
				out := map[int64]int{}
				for _, r := range kafkatest.ReadCommitted(t, b.Addr, topic) {
					var v struct{ ID int64 }
					if err := json.Unmarshal(r.Value, &v); err != nil {
						t.Fatalf("value %q: %v", r.Value, err)
					}
					out[v.ID]++
				}
				return out
			},
			Disrupt: func(testing.TB) {
				b.Stop()
				time.Sleep(300 * time.Millisecond)
				b.Restart()
			},
		}
	})
}
