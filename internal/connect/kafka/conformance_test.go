package kafka

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirhq/weir/internal/connect/conformance"
	"github.com/weirhq/weir/internal/connect/kafka/kafkatest"
	"github.com/weirhq/weir/internal/connect/spec"
)

// TestConformance: the shared source suite against a real KRaft broker, a
// new three-partition topic per case; the broker is SIGKILLed and
// restarted in the disruption case.
func TestConformance(t *testing.T) {
	b := kafkatest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var topics atomic.Int64
	conformance.Run(t, func(t *testing.T) conformance.Peer {
		topic := "conformance-" + strconv.FormatInt(topics.Add(1), 10)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		return conformance.Peer{
			Type: "kafka",
			Settings: func(t testing.TB, _ string, batch int) spec.Values {
				return spec.Values{"brokers": []string{b.Addr}, "topic": topic, "format": "json", "start": "earliest",
					"max_batch": int64(batch), "client_id": "weir-conformance"}
			},
			Deliver: func(t testing.TB, from, to int) {
				var recs []*kgo.Record
				for i := from; i < to; i++ {
					recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: conformance.Record(i)})
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

// Records Kafka deletes before Weir reads them (retention) are reported and
// counted, not skipped silently.
func TestLostRecordsReported(t *testing.T) {
	b := kafkatest.Start(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "lossy"); err != nil {
		t.Fatal(err)
	}
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Topic: "lossy", Partition: 0, Value: conformance.Record(i)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	h := conformance.NewHarness(t, conformance.Peer{Type: "kafka", Settings: func(testing.TB, string, int) spec.Values {
		return spec.Values{"brokers": []string{b.Addr}, "topic": "lossy", "format": "json", "start": "earliest", "max_batch": int64(100), "client_id": "weir-test", "group": "-"}
	}})
	produce(0, 100)
	stop := h.StartRefusing(0)
	h.WaitCount(100)
	stop()
	produce(100, 200)
	if _, err := adm.DeleteRecords(ctx, kadm.Offsets{"lossy": {0: {At: 150}}}); err != nil { // as retention would
		t.Fatal(err)
	}
	stop = h.StartRefusing(0)
	h.WaitCount(150) // 0..99, then 150..199
	stop()
	if got := testutil.ToFloat64(h.Metrics().Lost.WithLabelValues("conformance")); got != 50 {
		t.Fatalf("weir_source_records_lost_total %v, want 50 (offsets 100..149)", got)
	}
}
