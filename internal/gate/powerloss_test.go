package gate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/schema"
)

// TestPowerLoss is T2 of the test plan, in process: writers ingest through
// the gate into a log on a filesystem that keeps only what was synced
// (plus, for some seeds, a random part of what was not), and power is cut
// at a random moment while requests are in flight. On the surviving
// filesystem:
//
//   - every request acknowledged before the cut is there, whole;
//   - every request is there whole or not at all, its idempotency record
//     with it: a retry of one that survived adds nothing and returns the
//     first answer, a retry of one that did not adds it;
//   - offsets are dense from 0 in every partition, and no event is there
//     twice.
//
// WEIR_T2_SEEDS sets the number of seeds (default 12; make stress runs
// more).
func TestPowerLoss(t *testing.T) {
	seeds := 12
	if s := os.Getenv("WEIR_T2_SEEDS"); s != "" {
		var err error
		if seeds, err = strconv.Atoi(s); err != nil {
			t.Fatalf("WEIR_T2_SEEDS=%q: %v", s, err)
		}
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { powerLoss(t, uint64(seed)) })
	}
}

// requestsInLog reads every record of the clicks stream's partitions and
// returns, per request, how many of its events are there; an event's
// user_id is its request's key, "-e", and its number in the request. It
// fails the test when offsets are not dense from 0 to the partition's end,
// a record does not decode, or an event is there twice. what names the run
// in messages.
func requestsInLog(t *testing.T, l *pebblelog.Log, sc *schema.Schema, partitions int, what string) map[string]int {
	t.Helper()
	idCol := sc.ColumnIndex("user_id")
	found := map[string]int{}
	events := map[string]bool{}
	for p := range partitions {
		next := int64(0)
		for {
			batches, err := l.Read("clicks", p, next, 1<<20)
			if err != nil {
				t.Fatalf("%s: partition %d at %d: %v", what, p, next, err)
			}
			if len(batches) == 0 {
				break
			}
			for i := range batches {
				b := &batches[i]
				if b.BaseOffset != next {
					t.Fatalf("%s: partition %d: batch at %d after offset %d: offsets are not dense", what, p, b.BaseOffset, next)
				}
				next = b.End()
				if err := b.Records(func(_ int64, rec []byte) bool {
					vals, err := schema.DecodeRow(sc.Columns, rec, nil)
					if err != nil {
						t.Fatalf("%s: a record does not decode: %v", what, err)
					}
					id := string(vals[idCol].Bytes)
					if events[id] {
						t.Fatalf("%s: event %s is in the log twice", what, id)
					}
					events[id] = true
					found[id[:strings.LastIndex(id, "-e")]]++
					return true
				}); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
		}
		if end, err := l.End("clicks", p); err != nil || end != next {
			t.Fatalf("%s: partition %d ends at %d (%v), but its records end at %d", what, p, end, err, next)
		}
	}
	return found
}

// request is one request a writer sent: its body and what it holds.
type request struct {
	body   []byte
	events int
}

func powerLoss(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	sc, err := schema.Compile([]byte(clicksSchema))
	if err != nil {
		t.Fatal(err)
	}
	streams := []Stream{{Name: "clicks", Schema: sc, Version: 1, KeyCols: []int{1}, Partitions: 4}}
	fs := vfs.NewCrashableMem()
	l, err := pebblelog.Open("log", pebblelog.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(l, l, streams, Options{})
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	sent := map[string]request{} // by idempotency key, before it is sent
	acked := map[string]Result{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wr := rand.New(rand.NewPCG(seed, uint64(w)+10))
			for r := 0; ; r++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-r%d", w, r)
				n := 1 + wr.IntN(40)
				var b strings.Builder
				for e := range n {
					fmt.Fprintf(&b, `{"ts":%d,"user_id":"%s-e%d","status":200}`+"\n", 1_790_000_000_000+int64(r), key, e)
				}
				req := request{body: []byte(b.String()), events: n}
				mu.Lock()
				sent[key] = req
				mu.Unlock()
				res, err := g.Ingest(context.Background(), Request{Stream: "clicks", Format: NDJSON, Body: req.body, IdempotencyKey: key})
				if err != nil {
					return // the log is closed after the cut
				}
				mu.Lock()
				acked[key] = res
				mu.Unlock()
			}
		}()
	}

	// Cut the power once a random number of requests are acknowledged.
	target := 1 + rng.IntN(300)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= target {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	mustSurvive := make(map[string]Result, len(acked))
	for k, v := range acked {
		mustSurvive[k] = v
	}
	mu.Unlock()
	cfg := vfs.CrashCloneCfg{}
	if seed%2 == 1 {
		cfg = vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(100), RNG: rand.New(rand.NewPCG(seed, 3))}
	}
	after := fs.CrashClone(cfg)
	close(stop)
	l.Close()
	wg.Wait()

	l2, err := pebblelog.Open("log", pebblelog.Options{FS: after})
	if err != nil {
		t.Fatalf("seed %d: the log does not open after the power cut: %v", seed, err)
	}
	defer l2.Close()
	g2, err := New(l2, l2, streams, Options{}) // opens the streams
	if err != nil {
		t.Fatal(err)
	}
	survived := requestsInLog(t, l2, sc, 4, fmt.Sprintf("seed %d", seed))
	for key, n := range survived {
		if want := sent[key].events; n != want {
			t.Fatalf("seed %d: request %s survived with %d of its %d events", seed, key, n, want)
		}
	}
	for key, res := range mustSurvive {
		if survived[key] != res.Accepted {
			t.Fatalf("seed %d: request %s was acknowledged (%d events) before the cut; %d survived", seed, key, res.Accepted, survived[key])
		}
	}

	// Retries after the restart: the idempotency record went with the data.
	ends := func() int64 {
		var n int64
		for p := range 4 {
			e, err := l2.End("clicks", p)
			if err != nil {
				t.Fatal(err)
			}
			n += e
		}
		return n
	}
	for key, req := range sent {
		before := ends()
		res, err := g2.Ingest(context.Background(), Request{Stream: "clicks", Format: NDJSON, Body: req.body, IdempotencyKey: key})
		if err != nil {
			t.Fatalf("seed %d: retry of %s: %v", seed, key, err)
		}
		added := ends() - before
		switch {
		case survived[key] > 0 && added != 0:
			t.Fatalf("seed %d: request %s survived, and its retry added %d records", seed, key, added)
		case survived[key] == 0 && added != int64(req.events):
			t.Fatalf("seed %d: request %s was lost whole, and its retry added %d of %d records", seed, key, added, req.events)
		case res.Accepted != req.events:
			t.Fatalf("seed %d: retry of %s answered %+v, want %d accepted", seed, key, res, req.events)
		}
	}
	t.Logf("seed %d: cut after %d acknowledged requests (%d sent); %d requests survived", seed, len(mustSurvive), len(sent), len(survived))
}
