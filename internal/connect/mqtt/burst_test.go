package mqtt

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/weirhq/weir/internal/connect/conformance"
	"github.com/weirhq/weir/internal/connect/mqtt/mqtttest"
	"github.com/weirhq/weir/internal/connect/spec"
)

// TestFleetBurst: a fleet of 50 devices publishes at a steady rate, then
// at ten times that rate, then steady again, while the stream refuses
// batches through the first half of the burst (a slow downstream).
// Nothing is lost, and the source's memory does not grow with the backlog:
// the broker holds what Weir has not acknowledged, Weir at most
// receive_maximum.
//
// The burst lasts 2 s here; `make stress` runs it for a minute
// (WEIR_MQTT_BURST=60s) and logs the heap and the rates, with the bound on
// the heap's growth checked either way.
func TestFleetBurst(t *testing.T) {
	burst := 2 * time.Second
	if d, err := time.ParseDuration(os.Getenv("WEIR_MQTT_BURST")); err == nil {
		burst = d
	}
	const (
		devices = 50
		steady  = 1000 // messages a second, the whole fleet
		calm    = 2 * time.Second
	)
	b := mqtttest.Start(t)
	subscribeOnce(t, b.Addr, "weir-burst", "burst/+/reading")
	h := conformance.NewHarness(t, conformance.Peer{Type: "mqtt", AtLeastOnce: true,
		Settings: func(t testing.TB, _ string, batch int) spec.Values {
			return spec.Values{"broker": []string{b.URL}, "topics": []string{"burst/+/reading"}, "client_id": "weir-burst",
				"session_expiry": time.Hour, "receive_maximum": int64(500), "max_batch": int64(500), "linger": 10 * time.Millisecond}
		}})

	// The live heap (after a collection) at the end of the first steady
	// phase, and when the backlog is largest (the stream has refused for
	// half the burst); and the peak heap in use, sampled.
	var peak atomic.Uint64
	var before, during uint64
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	stop := h.StartRefusing(calm + burst/2)
	sampling, samplerDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(samplerDone)
		t0 := time.Now()
		for {
			select {
			case <-sampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			at := time.Since(t0)
			if before == 0 && at >= calm-200*time.Millisecond {
				before = live()
			}
			if during == 0 && at >= calm+burst/2-200*time.Millisecond {
				during = live()
			}
		}
	}()

	// Each device publishes its own range of record numbers, paced to the
	// fleet's rate of the moment (steady, ten times, steady).
	start := time.Now()
	end := calm + burst + calm
	rate := func(at time.Duration) float64 {
		if at >= calm && at < calm+burst {
			return 10 * steady
		}
		return steady
	}
	each := int(float64(steady)*(2*calm.Seconds())/devices+10*steady*burst.Seconds()/devices) + 1
	var sent atomic.Int64
	sentBy := make([]int, devices)
	var wg sync.WaitGroup
	for d := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", b.Addr)
			if err != nil {
				t.Error(err)
				return
			}
			c := paho.NewClient(paho.ClientConfig{Conn: conn})
			ctx, cancel := context.WithTimeout(context.Background(), end+time.Minute)
			defer cancel()
			if _, err := c.Connect(ctx, &paho.Connect{KeepAlive: 30, ClientID: fmt.Sprintf("device-%d-%d", d, time.Now().UnixNano()), CleanStart: true}); err != nil {
				t.Error(err)
				return
			}
			defer c.Disconnect(&paho.Disconnect{ReasonCode: 0})
			due := 0.0 // messages this device should have sent by now
			last := time.Duration(0)
			for n := 0; n < each; {
				at := time.Since(start)
				if at >= end {
					break
				}
				due += rate(at) / devices * (at - last).Seconds()
				last = at
				for ; float64(n) < due && n < each; n++ {
					i := d*each + n
					if _, err := c.Publish(ctx, &paho.Publish{Topic: fmt.Sprintf("burst/%d/reading", d), QoS: 1, Payload: conformance.Record(i)}); err != nil {
						t.Errorf("device %d, record %d: %v", d, i, err)
						return
					}
					sent.Add(1)
					sentBy[d] = n + 1
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	published := time.Since(start)
	close(sampling)
	<-samplerDone

	// Every record each device published arrives (at least once).
	missing := func() int {
		seen, quarantined := h.Tally(devices * each)
		lost := 0
		for d := range devices {
			for n := range sentBy[d] {
				if i := d*each + n; seen[i]+quarantined[i] == 0 {
					lost++
				}
			}
		}
		return lost
	}
	lost := missing()
	for deadline := time.Now().Add(2 * time.Minute); lost > 0 && time.Now().Before(deadline); lost = missing() {
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	growth := int64(during) - int64(before)
	t.Logf("published %d messages in %s (burst %s at %d/s asked, %d/s steady; the stream refused for %s), lost %d; live heap %.1f MB before the burst, %.1f MB at its largest backlog (%+.1f MB); heap in use at most %d MB",
		sent.Load(), published.Round(time.Millisecond), burst, 10*steady, steady, calm+burst/2, lost,
		float64(before)/(1<<20), float64(during)/(1<<20), float64(growth)/(1<<20), peak.Load()>>20)
	if lost > 0 {
		t.Fatalf("%d published messages never arrived", lost)
	}
	// 500 unacknowledged messages are well under a megabyte; holding the
	// backlog (burst/2 at 10k/s: 300k messages in the minute-long run)
	// would take hundreds of bytes a message.
	if before == 0 || during == 0 {
		t.Fatal("the heap was not measured")
	}
	if growth > 32<<20 {
		t.Fatalf("the live heap grew by %d MB while the stream refused: the source buffers what it should leave in the broker", growth>>20)
	}
}
