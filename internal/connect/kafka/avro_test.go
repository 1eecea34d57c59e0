package kafka

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/registry"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/avrowire/registrytest"
	"github.com/weirhq/weir/internal/connect/conformance"
	"github.com/weirhq/weir/internal/connect/kafka/kafkatest"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/schema"
)

// Writer schemas a producer might use for the conformance records: two
// that read as the same event (fields in another order, an int id, a
// timestamp-millis ts), and one whose id is a string (the suite's bad
// records, which the stream's schema must refuse).
const (
	avroA = `{"type":"record","name":"Event","namespace":"test","fields":[{"name":"id","type":"long"},{"name":"ts","type":"long"},{"name":"body","type":"string"}]}`
	avroB = `{"type":"record","name":"Event","namespace":"test","fields":[{"name":"body","type":"string"},{"name":"id","type":"int"},{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}]}`
	avroX = `{"type":"record","name":"Event","namespace":"test","fields":[{"name":"id","type":"string"},{"name":"ts","type":"long"},{"name":"body","type":"string"}]}`
)

// avroProducer frames records as Confluent's serializer does, under
// schemas registered in a real registry.
type avroProducer struct {
	ids     map[string]uint32
	schemas map[string]avro.Schema
}

func newAvroProducer(t testing.TB, url string) *avroProducer {
	t.Helper()
	reg, err := registry.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	p := &avroProducer{ids: map[string]uint32{}, schemas: map[string]avro.Schema{}}
	for subject, js := range map[string]string{"events-a": avroA, "events-b": avroB, "events-x": avroX} {
		id, sc, err := reg.CreateSchema(context.Background(), subject, js)
		if err != nil {
			t.Fatalf("register %s: %v", subject, err)
		}
		p.ids[js], p.schemas[js] = uint32(id), sc
	}
	return p
}

// value is conformance record i in Avro: even good ones under avroA, odd
// ones under avroB, bad ones under avroX.
func (p *avroProducer) value(t testing.TB, i int) []byte {
	var rec struct {
		ID   any
		TS   int64
		Body string
	}
	if err := json.Unmarshal(conformance.Record(i), &rec); err != nil {
		t.Fatal(err)
	}
	js, m := avroA, map[string]any{"id": rec.ID, "ts": rec.TS, "body": rec.Body}
	switch {
	case conformance.Bad(i):
		js = avroX
	case i%2 == 1:
		js = avroB
		m["id"], m["ts"] = int(rec.ID.(float64)), time.UnixMilli(rec.TS)
	default:
		m["id"] = int64(rec.ID.(float64))
	}
	b, err := avro.Marshal(p.schemas[js], m)
	if err != nil {
		t.Fatalf("record %d: %v", i, err)
	}
	return append(binary.BigEndian.AppendUint32([]byte{0}, p.ids[js]), b...)
}

// TestAvroConformance: the shared source suite with every record in Avro
// (three writer schemas), the registry real and the broker restarted in
// the disruption case.
func TestAvroConformance(t *testing.T) {
	b := kafkatest.Start(t)
	reg := registrytest.Start(t)
	prod := newAvroProducer(t, reg.URL)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var topics atomic.Int64
	conformance.Run(t, func(t *testing.T) conformance.Peer {
		topic := "avro-" + strconv.FormatInt(topics.Add(1), 10)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		return conformance.Peer{
			Type: "kafka",
			Settings: func(t testing.TB, _ string, batch int) spec.Values {
				return spec.Values{"brokers": []string{b.Addr}, "topic": topic, "format": "avro", "schema_registry": reg.URL,
					"start": "earliest", "max_batch": int64(batch), "client_id": "weir-conformance"}
			},
			Deliver: func(t testing.TB, from, to int) {
				var recs []*kgo.Record
				for i := from; i < to; i++ {
					recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: prod.value(t, i)})
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					t.Errorf("produce %d..%d: %v", from, to, err)
				}
			},
			Disrupt: func(t testing.TB) {
				b.Stop()
				time.Sleep(500 * time.Millisecond)
				b.Restart()
			},
		}
	})
}

// TestAvroBadValues: values that are not Avro in the wire format, name a
// schema id the registry does not have, or are cut short go to the
// quarantine with their original bytes and a reason; the good ones around
// them are ingested.
func TestAvroBadValues(t *testing.T) {
	b := kafkatest.Start(t)
	reg := registrytest.Start(t)
	prod := newAvroProducer(t, reg.URL)
	r := newSinkRig(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.DefaultProduceTopic("mixed"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	good := prod.value(t, 1)
	cut := good[:len(good)-3]
	unknown := append([]byte{0, 0, 0, 0x27, 0x0f}, good[5:]...) // id 9999
	values := [][]byte{prod.value(t, 0), []byte(`{"id":5,"ts":1,"body":"json"}`), unknown, cut, good, prod.value(t, 7)}
	for _, v := range values {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	src, err := New(spec.Values{"brokers": []string{b.Addr}, "topic": "mixed", "format": "avro", "schema_registry": reg.URL,
		"start": "earliest", "max_batch": int64(100), "client_id": "weir-test", "group": "-"},
		connect.Env{Name: "in", Stream: "events", Gate: r.gate, Meta: r.log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	var q []gate.QuarantineRecord
	deadline := time.Now().Add(30 * time.Second)
	for len(q) < 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		q, _ = r.gate.ListQuarantine("events", 100)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{ // offset: rule, reason
		"1": {"format", "not Avro in the Confluent wire format"},
		"2": {"schema", "names schema id 9999, which the schema registry"},
		"3": {"format", "does not decode under its Avro schema"},
		"5": {"type", ""},
	}
	if len(q) != len(want) {
		t.Fatalf("quarantine %+v, want %d records", q, len(want))
	}
	for _, rec := range q {
		off := strings.Fields(rec.Origin)[5] // topic T partition P offset O …
		w, ok := want[off]
		if !ok || rec.Rule != w[0] || !strings.Contains(rec.Reason, w[1]) {
			t.Errorf("offset %s quarantined as %q (%s), want %v", off, rec.Rule, rec.Reason, w)
		}
		n, _ := strconv.Atoi(off)
		switch {
		case off == "5": // decoded, then refused by the stream's schema: the JSON it was read as, replayable
			if !json.Valid(rec.Raw) || !strings.Contains(string(rec.Raw), `"id":"not a number 7"`) || !strings.Contains(rec.Origin, "(Avro, schema id ") {
				t.Errorf("offset 5: raw %q, origin %q: want the JSON it was read as and the schema id", rec.Raw, rec.Origin)
			}
		case string(rec.Raw) != string(values[n]):
			t.Errorf("offset %s: raw %q, want the original value %q", off, rec.Raw, values[n])
		}
	}
	if ids := r.ids(); len(ids) != 2 || ids[0] != 1 || ids[1] != 1 {
		t.Errorf("stream holds ids %v, want 0 and 1", ids)
	}
}

// ids counts each id in the rig's stream.
func (r *sinkRig) ids() map[int64]int {
	r.t.Helper()
	out := map[int64]int{}
	col := r.sc.ColumnIndex("id")
	conformance.EachRow(r.t, r.log, "events", 3, r.sc.Columns, func(vals []schema.Value) { out[vals[col].Int]++ })
	return out
}

// TestAvroSinkRoundTrip: a stream written with format: avro reads back
// with hamba/avro's own Confluent decoder (the schema fetched from the
// registry by the id in each value) as the same events, and the Avro
// source reads that topic into another stream as the same events again.
func TestAvroSinkRoundTrip(t *testing.T) {
	b := kafkatest.Start(t)
	reg := registrytest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 3, 1, nil, "events-avro"); err != nil {
		t.Fatal(err)
	}
	const n = 600
	r := newSinkRig(t)
	r.ingest(0, n)
	s := r.sink(sinkSettings(b.Addr, "events-avro", map[string]any{"format": "avro", "schema_registry": reg.URL}))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for c := s.Committed(); c == nil || c[0]+c[1]+c[2] < n-n/50; c = s.Committed() { // n minus the bad ones
		if time.Now().After(deadline) {
			t.Fatalf("sink committed %v", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	rc, err := registry.NewClient(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	if subjects, err := rc.GetSubjects(context.Background()); err != nil || len(subjects) != 1 || subjects[0] != "events-avro-value" {
		t.Fatalf("subjects %v (%v), want events-avro-value", subjects, err)
	}
	dec := registry.NewDecoder(rc)
	seen := map[int64]int{}
	for _, rec := range kafkatest.ReadCommitted(t, b.Addr, "events-avro") {
		var ev struct {
			ID   int64     `avro:"id"`
			TS   time.Time `avro:"ts"`
			Body string    `avro:"body"`
		}
		if err := dec.Decode(context.Background(), rec.Value, &ev); err != nil {
			t.Fatalf("value % x: %v", rec.Value, err)
		}
		var want struct {
			ID   int64
			TS   int64
			Body string
		}
		json.Unmarshal(conformance.Record(int(ev.ID)), &want)
		if !ev.TS.Equal(time.UnixMilli(want.TS)) || ev.Body != want.Body || string(rec.Key) != fmt.Sprint(want.ID) {
			t.Fatalf("record %d read back as %v %q key %q, want %v %q", ev.ID, ev.TS, ev.Body, rec.Key, time.UnixMilli(want.TS).UTC(), want.Body)
		}
		seen[ev.ID]++
	}
	r2 := newSinkRig(t)
	src, err := New(spec.Values{"brokers": []string{b.Addr}, "topic": "events-avro", "format": "avro", "schema_registry": reg.URL,
		"start": "earliest", "max_batch": int64(100), "client_id": "weir-test", "group": "-"},
		connect.Env{Name: "in", Stream: "events", Gate: r2.gate, Meta: r2.log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	go func() { errc <- src.Run(ctx) }()
	for deadline = time.Now().Add(30 * time.Second); len(r2.ids()) < len(seen) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	again := r2.ids()
	for i := range n {
		want := 1
		if conformance.Bad(i) {
			want = 0
		}
		if seen[int64(i)] != want || again[int64(i)] != want {
			t.Fatalf("id %d: %d times in the topic, %d times read back, want %d", i, seen[int64(i)], again[int64(i)], want)
		}
	}
	if q, _ := r2.gate.ListQuarantine("events", 10); len(q) != 0 {
		t.Fatalf("reading our own Avro back quarantined %+v", q)
	}
}

// BenchmarkAvroSource: 300k records from a topic of a real broker to
// durable in a stream, as JSON and as Avro (schemas from a real
// registry), to compare the transcoding's cost.
//
//	go test -run='^$' -bench=BenchmarkAvroSource -benchtime=3x ./internal/connect/kafka/
func BenchmarkAvroSource(b *testing.B) {
	const total = 300_000
	br := kafkatest.Start(b)
	reg := registrytest.Start(b)
	prod := newAvroProducer(b, reg.URL)
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr), kgo.ProducerBatchMaxBytes(1<<20), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	good := 0
	for _, format := range []string{"json", "avro"} {
		if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 3, 1, nil, "bench-"+format); err != nil {
			b.Fatal(err)
		}
		for from := 0; from < total; from += 10_000 {
			recs := make([]*kgo.Record, 0, 10_000)
			for i := from; i < from+10_000; i++ {
				v := conformance.Record(i)
				if format == "avro" {
					v = prod.value(b, i)
				}
				recs = append(recs, &kgo.Record{Topic: "bench-" + format, Value: v})
			}
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := range total {
		if !conformance.Bad(i) {
			good++
		}
	}
	for _, format := range []string{"json", "avro"} {
		b.Run(format, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				r := newSinkRig(b)
				src, err := New(spec.Values{"brokers": []string{br.Addr}, "topic": "bench-" + format, "format": format, "schema_registry": reg.URL,
					"start": "earliest", "max_batch": int64(5000), "client_id": "weir-bench", "group": "-"},
					connect.Env{Name: "in", Stream: "events", Gate: r.gate, Meta: r.log, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				b.StartTimer()
				start := time.Now()
				go func() { done <- src.Run(ctx) }()
				for {
					var sum int64
					for p := range 3 {
						e, _ := r.log.End("events", p)
						sum += e
					}
					if sum >= int64(good) {
						break
					}
					time.Sleep(2 * time.Millisecond)
				}
				b.ReportMetric(float64(total)/time.Since(start).Seconds(), "events/s")
				b.StopTimer()
				cancel()
				<-done
			}
		})
	}
}
