package mqtt

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/weirhq/weir/internal/connect/conformance"
	"github.com/weirhq/weir/internal/connect/mqtt/mqtttest"
	"github.com/weirhq/weir/internal/connect/spec"
)

// publish sends payloads to the broker at QoS 1, each acknowledged.
func publish(t testing.TB, addr string, topic func(i int) string, from, to int, payload func(i int) []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{KeepAlive: 30, ClientID: fmt.Sprintf("publisher-%d-%d", from, time.Now().UnixNano()), CleanStart: true}); err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	for i := from; i < to; i++ {
		if _, err := c.Publish(ctx, &paho.Publish{Topic: topic(i), QoS: 1, Payload: payload(i)}); err != nil {
			t.Errorf("publish %d: %v", i, err)
			return
		}
	}
}

// fleet has devices publish at once, each its own `each` records (device
// d: from+d*each on) to <prefix>/<d>/reading.
func fleet(t testing.TB, addr, prefix string, devices, from, each int) {
	t.Helper()
	done := make(chan struct{})
	for d := range devices {
		go func() {
			defer func() { done <- struct{}{} }()
			publish(t, addr, func(int) string { return fmt.Sprintf("%s/%d/reading", prefix, d) }, from+d*each, from+(d+1)*each, conformance.Record)
		}()
	}
	for range devices {
		<-done
	}
}

// subscribeOnce makes the persistent session of client id with the
// filter, as a source that ran before would have left it: messages
// published from then on wait for it.
func subscribeOnce(t testing.TB, addr, id, filter string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn, ClientID: id})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	expiry := uint32(3600)
	if _, err := c.Connect(ctx, &paho.Connect{KeepAlive: 30, ClientID: id, CleanStart: true, Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	c.Disconnect(&paho.Disconnect{ReasonCode: 0})
}

// TestConformance: the shared source suite against a real Mosquitto, at
// least once; the broker is stopped and started in the disruption case.
func TestConformance(t *testing.T) {
	b := mqtttest.Start(t)
	var peers atomic.Int64
	conformance.Run(t, func(t *testing.T) conformance.Peer {
		n := peers.Add(1)
		prefix := fmt.Sprintf("conformance%d", n)
		id := fmt.Sprintf("weir-conformance-%d", n)
		subscribeOnce(t, b.Addr, id, prefix+"/+/reading")
		return conformance.Peer{
			Type:        "mqtt",
			AtLeastOnce: true,
			Settings: func(t testing.TB, _ string, batch int) spec.Values {
				return spec.Values{"broker": []string{b.URL}, "topics": []string{prefix + "/+/reading"}, "client_id": id,
					"session_expiry": time.Hour, "receive_maximum": int64(200), "max_batch": int64(batch), "linger": 10 * time.Millisecond}
			},
			Deliver: func(t testing.TB, from, to int) {
				publish(t, b.Addr, func(i int) string { return fmt.Sprintf("%s/%d/reading", prefix, i%4) }, from, to, conformance.Record)
			},
			Disrupt: func(t testing.TB) {
				b.Stop()
				time.Sleep(300 * time.Millisecond)
				b.Restart()
			},
		}
	})
}

func TestFilters(t *testing.T) {
	for _, f := range []string{"a/b", "a/+/c", "a/#", "#", "+"} {
		if err := checkFilter(f); err != nil {
			t.Errorf("%q: %v", f, err)
		}
	}
	for _, f := range []string{"", "a/#/c", "a/b#", "a+/b"} {
		if err := checkFilter(f); err == nil {
			t.Errorf("%q: accepted", f)
		}
	}
	if got := string(withTopic([]byte(` {"a":1}`), "s/1")); got != `{"_topic":"s/1","a":1}` {
		t.Errorf("withTopic: %s", got)
	}
	if got := string(withTopic([]byte(`{}`), "s/1")); got != `{"_topic":"s/1"}` {
		t.Errorf("withTopic: %s", got)
	}
	if got := string(withTopic([]byte(`[1]`), "s/1")); !strings.HasPrefix(got, "[") {
		t.Errorf("withTopic: %s", got)
	}
}

// TestBurst: a fleet of 20 devices publishes 20k readings as fast as the
// broker takes them while the stream refuses batches (backlog) for a
// second: the broker holds what Weir has not acknowledged, Weir holds at
// most receive_maximum, and every reading arrives.
func TestBurst(t *testing.T) {
	b := mqtttest.Start(t)
	subscribeOnce(t, b.Addr, "weir-fleet", "fleet/+/reading")
	h := conformance.NewHarness(t, conformance.Peer{Type: "mqtt", AtLeastOnce: true,
		Settings: func(t testing.TB, _ string, batch int) spec.Values {
			return spec.Values{"broker": []string{b.URL}, "topics": []string{"fleet/+/reading"}, "client_id": "weir-fleet",
				"session_expiry": time.Hour, "receive_maximum": int64(500), "max_batch": int64(500), "linger": 10 * time.Millisecond}
		}})
	stop := h.StartRefusing(time.Second)
	fleet(t, b.Addr, "fleet", 20, 0, 1000)
	h.Wait(20_000)
	stop()
	h.Check(20_000)
}

// BenchmarkMQTT: 40k QoS 1 messages from 4 publishers through a real
// Mosquitto to durable in Weir's log.
//
//	go test -run='^$' -bench=BenchmarkMQTT -benchtime=3x ./internal/connect/mqtt/
func BenchmarkMQTT(b *testing.B) {
	br := mqtttest.Start(b)
	subscribeOnce(b, br.Addr, "weir-bench", "bench/+/reading")
	h := conformance.NewHarnessTB(b, conformance.Peer{Type: "mqtt", AtLeastOnce: true,
		Settings: func(t testing.TB, _ string, batch int) spec.Values {
			return spec.Values{"broker": []string{br.URL}, "topics": []string{"bench/+/reading"}, "client_id": "weir-bench",
				"session_expiry": time.Hour, "receive_maximum": int64(1000), "max_batch": int64(1000), "linger": 10 * time.Millisecond}
		}})
	stop := h.StartRefusing(0)
	defer stop()
	sent := 0
	for b.Loop() {
		fleet(b, br.Addr, "bench", 4, sent, 10_000)
		sent += 40_000
		h.WaitCount(sent)
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkMQTTPublishBaseline: the same 4 publishers with nobody
// subscribed: how fast the test's publishers and the broker go alone.
func BenchmarkMQTTPublishBaseline(b *testing.B) {
	br := mqtttest.Start(b)
	sent := 0
	for b.Loop() {
		fleet(b, br.Addr, "nobody", 4, sent, 10_000)
		sent += 40_000
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "msgs/s")
}
