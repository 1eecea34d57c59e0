package kafka

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

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
