package node

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/registry"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirhq/weir/internal/api"
	"github.com/weirhq/weir/internal/config"
	"github.com/weirhq/weir/internal/connect/avrowire/registrytest"
	"github.com/weirhq/weir/internal/connect/kafka/kafkatest"
)

// The Avro schema a payments service writes with (Confluent's serializer
// framing): an optional card country, amounts as double, times as
// timestamp-millis.
const paymentsAvro = `{"type":"record","name":"Payment","namespace":"shop","fields":[
 {"name":"payment_id","type":"string"},{"name":"merchant","type":"string"},{"name":"amount","type":"double"},
 {"name":"currency","type":{"type":"enum","name":"Currency","symbols":["EUR","USD","GBP","JPY"]}},
 {"name":"paid_at","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"card_country","type":["null","string"],"default":null}]}`

// TestKafkaAvroExample runs examples/kafka-avro against a real broker and
// a real schema registry: Avro payments in (a JPY one and a negative one
// quarantined, the rest accepted, an absent card country read as absent),
// per-merchant minutes in the view, and the validated payments out as Avro
// that the registry's own decoder reads.
func TestKafkaAvroExample(t *testing.T) {
	b := kafkatest.Start(t)
	reg := registrytest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// One input partition, so that the payments arrive in time order and
	// the last one's watermark closes the minutes before it (from several
	// partitions, records behind the watermark would be late, by design).
	for topic, parts := range map[string]int32{"payments": 1, "payments-validated": 2, "merchant-minutes": 1} {
		if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), parts, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	rc, err := registry.NewClient(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	id, sc, err := rc.CreateSchema(context.Background(), "payments-value", paymentsAvro)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	want := map[string]float64{} // merchant|minute -> total
	for i := range 200 {
		at := start.Add(time.Duration(i) * 3 * time.Second)
		p := map[string]any{"payment_id": fmt.Sprintf("p%d", i), "merchant": fmt.Sprintf("m%d", i%3), "amount": float64(i) + 0.5,
			"currency": "EUR", "paid_at": at, "card_country": nil}
		switch {
		case i%50 == 13:
			p["currency"] = "JPY" // not in the stream's enum
		case i%50 == 27:
			p["amount"] = -1.0
		default:
			want[fmt.Sprintf("m%d|%s", i%3, at.Truncate(time.Minute).Format("15:04"))] += float64(i) + 0.5
			if i%2 == 0 {
				p["card_country"] = map[string]any{"string": "DE"}
			}
		}
		v, err := avro.Marshal(sc, p)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "payments", Value: append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), v...)})
	}
	// A late one in the last minute's future moves the watermark past the
	// minutes above.
	late := map[string]any{"payment_id": "p-last", "merchant": "m0", "amount": 1.0, "currency": "EUR", "paid_at": start.Add(time.Hour), "card_country": nil}
	v, _ := avro.Marshal(sc, late)
	recs = append(recs, &kgo.Record{Topic: "payments", Value: append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), v...)},
		&kgo.Record{Topic: "payments", Value: append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), v...)})
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	pipe := filepath.Join(dir, "kafka-avro")
	copyTree(t, filepath.Join("..", "..", "examples", "kafka-avro"), pipe)
	conf := filepath.Join(pipe, "weir.yaml")
	y, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"localhost:9092", "http://localhost:8081"} {
		if !strings.Contains(string(y), addr) {
			t.Fatalf("examples/kafka-avro/weir.yaml no longer names %s: update the test's address rewrite", addr)
		}
	}
	s := strings.ReplaceAll(strings.ReplaceAll(string(y), "localhost:9092", b.Addr), "http://localhost:8081", reg.URL)
	if err := os.WriteFile(conf, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := config.Load(pipe)
	if err != nil {
		t.Fatal(err)
	}
	n := startWith(t, Config{Pipeline: p, DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})

	q := func(sql string) [][]any {
		t.Helper()
		res, err := n.Query(context.Background(), sql)
		if err != nil {
			t.Fatal(err)
		}
		return res.Rows
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		rows := q("SELECT count(*), count(card_country) FROM payments")
		minutes := q("SELECT count(*) FROM merchant_minutes")
		if rows[0][0] == int64(194) && minutes[0][0] == int64(len(want)) {
			if rows[0][1] != int64(100) {
				t.Fatalf("payments with a card country: %v, want 100", rows[0][1])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: payments %v, merchant_minutes rows %v (want 194 and %d)", rows, minutes, len(want))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, r := range q("SELECT merchant, strftime(window_start, '%H:%M'), total FROM merchant_minutes") {
		if k := fmt.Sprintf("%s|%s", r[0], r[1]); want[k] != r[2] {
			t.Errorf("merchant_minutes %s: total %v, want %v", k, r[2], want[k])
		}
	}
	qr, err := n.Gate().ListQuarantine("payments", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(qr) != 8 {
		t.Fatalf("quarantine holds %d records, want 8 (4 JPY, 4 negative)", len(qr))
	}
	for _, r := range qr {
		if !strings.Contains(r.Origin, "(Avro, schema id ") || (r.Field != "currency" && r.Field != "amount") {
			t.Errorf("quarantine record %+v: want the Avro schema id in its origin, field currency or amount", r)
		}
	}

	// The validated payments went out as Avro under payments-validated-value.
	dec := registry.NewDecoder(rc)
	out := map[string]int{}
	for deadline = time.Now().Add(30 * time.Second); len(out) < 193 && time.Now().Before(deadline); {
		out = map[string]int{}
		for _, r := range kafkatest.ReadCommitted(t, b.Addr, "payments-validated") {
			var ev struct {
				PaymentID   string  `avro:"payment_id"`
				CardCountry *string `avro:"card_country"`
			}
			if err := dec.Decode(context.Background(), r.Value, &ev); err != nil {
				t.Fatalf("payments-validated value % x: %v", r.Value[:min(16, len(r.Value))], err)
			}
			out[ev.PaymentID]++
		}
	}
	if len(out) != 193 || out["p0"] != 1 || out["p-last"] != 2 || out["p13"] != 0 {
		t.Fatalf("payments-validated holds %d payments (p0 %d, p-last %d, p13 %d), want 193 distinct, p0 once, p-last twice, p13 none",
			len(out), out["p0"], out["p-last"], out["p13"])
	}

	// Each closed minute's totals went out to merchant-minutes, keyed by
	// merchant, once.
	got := map[string]float64{}
	for deadline = time.Now().Add(30 * time.Second); len(got) < len(want) && time.Now().Before(deadline); {
		got = map[string]float64{}
		for _, r := range kafkatest.ReadCommitted(t, b.Addr, "merchant-minutes") {
			var m struct {
				WindowStart *time.Time `avro:"window_start"`
				Merchant    *string    `avro:"merchant"`
				Total       *float64   `avro:"total"`
			}
			if err := dec.Decode(context.Background(), r.Value, &m); err != nil {
				t.Fatalf("merchant-minutes value: %v", err)
			}
			k := fmt.Sprintf("%s|%s", *m.Merchant, m.WindowStart.UTC().Format("15:04"))
			if string(r.Key) != *m.Merchant {
				t.Fatalf("merchant-minutes record %s has key %q", k, r.Key)
			}
			if _, dup := got[k]; dup {
				t.Fatalf("merchant-minutes has %s twice", k)
			}
			got[k] = *m.Total
		}
	}
	if len(got) != len(want) {
		t.Fatalf("merchant-minutes holds %d minutes, want %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("merchant-minutes %s: total %v, want %v", k, got[k], w)
		}
	}
	if st := n.Status(); !slices.ContainsFunc(st.Sinks, func(s api.SinkStatus) bool { return s.Name == "minutes_out" && s.View == "merchant_minutes" }) {
		t.Errorf("status sinks %+v: want minutes_out of view merchant_minutes", st.Sinks)
	}
}

// A connector sink of a changelog view (a continuous aggregate) is
// refused at start with the reason: an appending sink has no form yet for
// its updates and retractions.
func TestViewSinkRefusesChangelog(t *testing.T) {
	yaml := eventsYAML(2) + `sinks:
  hook:
    type: webhook
    view: per_user
    url: http://127.0.0.1:1/hook
`
	cfg := testConfig(t, t.TempDir(), yaml, map[string]string{
		"per_user.sql": "CREATE MATERIALIZED VIEW per_user AS SELECT user_id, count(*) AS n FROM events GROUP BY user_id"})
	n, err := Start(cfg)
	if err == nil {
		n.Shutdown(context.Background())
		t.Fatal("a webhook sink of a continuous aggregate started")
	}
	if !strings.Contains(err.Error(), `view "per_user" is a changelog of upserts`) || !strings.Contains(err.Error(), "a webhook sink takes append-only views") {
		t.Fatalf("error %v, want the changelog refusal", err)
	}
}
