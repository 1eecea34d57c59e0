package webhook

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/conformance"
	"github.com/weirhq/weir/internal/connect/spec"
)

// endpoint is a real HTTP server that remembers idempotency keys (as
// Weir's ingest API does), fails a share of requests with 503 or by
// dropping the connection, and can go down.
type endpoint struct {
	srv      *httptest.Server
	mu       sync.Mutex
	keys     map[string]bool
	events   map[int64]int
	down     atomic.Bool
	rng      *rand.Rand
	requests atomic.Int64
}

func newEndpoint(t testing.TB) *endpoint {
	e := &endpoint{keys: map[string]bool{}, events: map[int64]int{}, rng: rand.New(rand.NewPCG(1, 2))}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	e.requests.Add(1)
	e.mu.Lock()
	fail := e.rng.IntN(10)
	e.mu.Unlock()
	if e.down.Load() || fail == 0 {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close() // a connection dropped mid-request
		return
	}
	if fail == 1 {
		w.Header().Set("Retry-After", "0")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	if r.Header.Get("Content-Type") != "application/x-ndjson" || r.Header.Get("Weir-Stream") != conformance.Stream || r.Header.Get("Idempotency-Key") == "" {
		http.Error(w, "bad headers", http.StatusBadRequest)
		return
	}
	var ids []int64
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct{ ID int64 }
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ids = append(ids, ev.ID)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if key := r.Header.Get("Idempotency-Key"); !e.keys[key] {
		e.keys[key] = true
		for _, id := range ids {
			e.events[id]++
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (e *endpoint) received(testing.TB) map[int64]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[int64]int{}
	for k, v := range e.events {
		out[k] = v
	}
	return out
}

// TestConformance: the shared sink suite against a flaky endpoint that
// honours Idempotency-Key: every event once.
func TestConformance(t *testing.T) {
	conformance.RunSink(t, func(t *testing.T) conformance.SinkPeer {
		e := newEndpoint(t)
		return conformance.SinkPeer{
			Type: "webhook",
			Settings: func(t testing.TB, batch int) spec.Values {
				return spec.Values{"url": e.srv.URL + "/hook", "format": "ndjson", "max_batch": int64(batch), "linger": 10 * time.Millisecond, "timeout": 5 * time.Second,
					"headers": []string{"Authorization: Bearer t0ken"}}
			},
			Received: e.received,
			Disrupt: func(testing.TB) {
				e.down.Store(true)
				time.Sleep(500 * time.Millisecond)
				e.down.Store(false)
			},
		}
	})
}

// A 4xx that is not 408 or 429 stops the sink with the endpoint's answer:
// retrying would not help and skipping would lose the batch.
func TestRefusedBatchStops(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "schema mismatch: field ts", http.StatusUnprocessableEntity)
	}))
	defer srv.Close()
	h := conformance.NewSinkHarness(t, conformance.SinkPeer{Type: "webhook", Settings: func(testing.TB, int) spec.Values {
		return spec.Values{"url": srv.URL, "format": "json", "max_batch": int64(10), "linger": time.Millisecond, "timeout": time.Second}
	}})
	h.Ingest(0, 20)
	err := h.RunUntilError(10 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), "schema mismatch: field ts") || !strings.Contains(err.Error(), "fatal") {
		t.Fatalf("Run: %v", err)
	}
}

func TestSettings(t *testing.T) {
	f := func(v spec.Values, want string) {
		t.Helper()
		base := spec.Values{"url": "http://x/", "format": "ndjson", "max_batch": int64(1), "linger": time.Millisecond, "timeout": time.Second}
		for k, x := range v {
			base[k] = x
		}
		_, err := New(base, connect.SinkEnv{Name: "s"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: %v, want %q", v, err, want)
		}
	}
	f(spec.Values{"url": "ftp://x"}, "not an http:// or https:// URL")
	f(spec.Values{"headers": []string{"NoColon"}}, "must be `Name: value`")
}
