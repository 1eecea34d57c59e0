package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	_ "github.com/weirhq/weir/internal/connect/all"
	"github.com/weirhq/weir/internal/connect/kafka/kafkatest"
)

// produce writes records seq from..to-1 to the topic, keyed by user; every
// 37th is bad (not JSON, or a wrong type), the rest valid events.
func produce(t testing.TB, cl *kgo.Client, topic string, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		v := fmt.Sprintf(`{"ts":%d,"seq":%d,"user_id":"u%d"}`, 1795000000000+int64(i), i, i%50)
		switch {
		case i%74 == 0:
			v = `{"ts": oops`
		case i%37 == 0:
			v = fmt.Sprintf(`{"ts":%d,"seq":"not a number","user_id":"u1"}`, 1795000000000+int64(i))
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("u%d", i%50)), Value: []byte(v)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %d..%d: %v", from, to, err)
	}
}

// kafkaPipeline is a stream "events" fed by a kafka source on topic
// clicks, with extra settings of the source appended.
func kafkaPipeline(broker string, partitions int, extra string) string {
	return eventsYAML(partitions) + fmt.Sprintf(`sources:
  from_kafka:
    type: kafka
    stream: events
    brokers: [%s]
    topic: clicks
`, broker) + extra
}

// kafkaOracle is what records 0..n-1 leave: accepted count and seq sum,
// quarantined count.
func kafkaOracle(n int) (accepted, sum, quarantined int) {
	for i := range n {
		if i%37 == 0 {
			quarantined++
			continue
		}
		accepted++
		sum += i
	}
	return
}

// waitCounts waits until the stream and its quarantine hold exactly what
// records 0..n-1 leave, and fails on more.
func waitCounts(t *testing.T, n *Node, total int) {
	t.Helper()
	acc, sum, quar := kafkaOracle(total)
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := n.Query(context.Background(), "SELECT count(*), coalesce(sum(seq), 0)::BIGINT FROM events")
		if err != nil {
			t.Fatal(err)
		}
		gotN, gotSum := res.Rows[0][0].(int64), res.Rows[0][1].(int64)
		gotQ := quarantined(t, n)
		if int(gotN) == acc && int(gotSum) == sum && gotQ == quar {
			return
		}
		if int(gotN) > acc || gotQ > quar || time.Now().After(deadline) {
			t.Fatalf("after %d records: %d events (seq sum %d), %d quarantined; want %d (%d), %d", total, gotN, gotSum, gotQ, acc, sum, quar)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func quarantined(t *testing.T, n *Node) int {
	t.Helper()
	resp, err := http.Get("http://" + n.Addr() + "/v1/quarantine?stream=events&limit=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Records []json.RawMessage `json:"records"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return len(body.Records)
}

// TestKafkaSourceExactlyOnce reads a three-partition topic of a real
// broker into a stream; bad values are quarantined; a broker crash and
// restart mid-run, and a node restart, leave every record in the stream
// exactly once.
func TestKafkaSourceExactlyOnce(t *testing.T) {
	b := kafkatest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "clicks"); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, "clicks", 0, 2000)

	dir := t.TempDir()
	cfg := testConfig(t, dir, kafkaPipeline(b.Addr, 2, "    max_batch: 300\n"), nil)
	cfg.NoSources = false
	n, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { n.Shutdown(context.Background()) }()
	waitCounts(t, n, 2000)

	// The broker crashes and comes back; the source catches up.
	b.Stop()
	time.Sleep(500 * time.Millisecond)
	b.Restart()
	produce(t, cl, "clicks", 2000, 3500)
	waitCounts(t, n, 3500)

	// The node stops; records produced meanwhile are read after its restart,
	// and nothing read before is read again.
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, "clicks", 3500, 5000)
	if n, err = Start(cfg); err != nil {
		t.Fatal(err)
	}
	waitCounts(t, n, 5000)

	// Lag tools see the position in the consumer group weir-<source>.
	deadline := time.Now().Add(10 * time.Second)
	for {
		offs, err := kadm.NewClient(cl).FetchOffsets(ctx, "weir-from_kafka")
		sum := int64(0)
		if err == nil {
			offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
		}
		if sum == 5000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer group weir-from_kafka holds %d (err %v), want 5000", sum, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// And /metrics says the source has caught up.
	for {
		resp, err := http.Get("http://" + n.Addr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `weir_source_lag_records{source="from_kafka"} 0`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no weir_source_lag_records{source=\"from_kafka\"} 0 in /metrics")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkKafkaSource measures Kafka → stream (validated, durable in the
// log, no lake): events per second from a topic of 500k records.
//
//	go test -run='^$' -bench=BenchmarkKafkaSource -benchtime=3x ./internal/node/
func BenchmarkKafkaSource(b *testing.B) {
	const total = 500_000
	br := kafkatest.Start(b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addr), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 4, 1, nil, "clicks"); err != nil {
		b.Fatal(err)
	}
	for from := 0; from < total; from += 50_000 {
		produce(b, cl, "clicks", from, from+50_000)
	}
	acc, _, _ := kafkaOracle(total)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		cfg := testConfig(b, b.TempDir(), kafkaPipeline(br.Addr, 4, ""), nil)
		cfg.NoSources = false
		b.StartTimer()
		start := time.Now()
		n, err := Start(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for {
			st, _ := n.log.End("events", 0)
			var sum int64 = st
			for p := 1; p < 4; p++ {
				e, _ := n.log.End("events", p)
				sum += e
			}
			if sum >= int64(acc) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.ReportMetric(float64(total)/time.Since(start).Seconds(), "events/s")
		b.StopTimer()
		n.Shutdown(context.Background())
		b.StartTimer()
	}
}

// TestKafkaSink: events posted over HTTP go out to a topic through a
// kafka sink in weir.yaml, exactly once across a node restart, and the
// log keeps what the sink has not sent.
func TestKafkaSink(t *testing.T) {
	b := kafkatest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 3, 1, nil, "events-out"); err != nil {
		t.Fatal(err)
	}
	yaml := eventsYAML(2) + `    retention: {max_age: 1ms}
sinks:
  out:
    type: kafka
    stream: events
    brokers: [` + b.Addr + `]
    topic: events-out
    linger: 20ms
`
	cfg := testConfig(t, t.TempDir(), yaml, nil)
	cfg.MaintainInterval = 20 * time.Millisecond
	n := startWith(t, cfg)
	waitSent := func(n *Node, total int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			got := 0
			for _, r := range kafkatest.ReadCommitted(t, b.Addr, "events-out") {
				if string(r.Headers[0].Value) != "events" {
					t.Fatalf("header %v", r.Headers)
				}
				got++
			}
			if got == total {
				return
			}
			if got > total || time.Now().After(deadline) {
				t.Fatalf("%d records in the topic, want %d", got, total)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if code, _, body := post(t, n, events(0, 1000)); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	waitSent(n, 1000)
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	n = startWith(t, cfg)
	if code, _, body := post(t, n, events(1000, 500)); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	waitSent(n, 1500)
	seqs := map[int]int{}
	for _, r := range kafkatest.ReadCommitted(t, b.Addr, "events-out") {
		var v struct {
			Seq    int    `json:"seq"`
			UserID string `json:"user_id"`
			TS     string `json:"ts"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != v.UserID || v.TS != time.UnixMilli(1795000000000+int64(v.Seq)).UTC().Format("2006-01-02T15:04:05.999999Z07:00") {
			t.Fatalf("record %s key %q", r.Value, r.Key)
		}
		seqs[v.Seq]++
	}
	for i := range 1500 {
		if seqs[i] != 1 {
			t.Fatalf("seq %d sent %d times", i, seqs[i])
		}
	}
	// Retention (max_age 1ms) deletes what the sink has sent, except each
	// partition's last batch (the second request's).
	deadline := time.Now().Add(10 * time.Second)
	for {
		start := int64(0)
		for p := range 2 {
			s, _ := n.log.Start("events", p)
			start += s
		}
		if start == 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log starts at %d records, want 1000 (the first request's, sent, deleted)", start)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A sink that cannot send (its topic does not exist) holds the log:
	// retention deletes nothing it has not sent.
	cfg = testConfig(t, t.TempDir(), strings.ReplaceAll(yaml, "topic: events-out", "topic: not-created"), nil)
	cfg.MaintainInterval = 20 * time.Millisecond
	n = startWith(t, cfg)
	for i := range 3 {
		if code, _, body := post(t, n, events(i*100, 100)); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	time.Sleep(300 * time.Millisecond) // many retention rounds
	for p := range 2 {
		if s, _ := n.log.Start("events", p); s != 0 {
			t.Fatalf("partition %d: retention deleted up to %d records the sink never sent", p, s)
		}
	}
	if got := n.backlog("events", 2); got != 300 {
		t.Fatalf("backlog %d, want the 300 records not sent", got)
	}
}
