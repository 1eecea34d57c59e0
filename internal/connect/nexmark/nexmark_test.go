package nexmark

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"strings"
	"testing"
)

// wire is the JSON of an event, decoded with the standard field names.
type wire struct {
	Person *struct {
		ID                                          int64
		Name, EmailAddress, CreditCard, City, State string
		DateTime                                    int64
		Extra                                       string
	} `json:"person"`
	Auction *struct {
		ID                                                       int64
		ItemName, Description                                    string
		InitialBid, Reserve, DateTime, Expires, Seller, Category int64
		Extra                                                    string
	} `json:"auction"`
	Bid *struct {
		Auction, Bidder, Price int64
		Channel                string
		URL                    string `json:"url"`
		DateTime               int64
		Extra                  string
	} `json:"bid"`
}

// TestStream checks the model over 100k events, from the JSON each event
// is written as: the 1:3:46 pattern, dense ids, references only to people
// and auctions that exist, the hot spots, prices, categories, times and
// sizes (the bytes of the field values, as Nexmark counts them).
func TestStream(t *testing.T) {
	const n = 100_000
	g := New(Config{Seed: 7})
	var e Event
	var buf []byte
	var persons, auctions, bids int64
	var hotSeller, hotBidder, hotAuction int
	var cheap int // bids under 1,000 dollars (the log-uniform median)
	size := map[Kind]int{}
	var expirySum float64
	prevTime := int64(math.MinInt64)
	for i := int64(0); i < n; i++ {
		g.Event(i, &e)
		buf = AppendJSON(buf[:0], &e)
		var w wire
		dec := json.NewDecoder(bytes.NewReader(buf))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&w); err != nil {
			t.Fatalf("event %d: %v\n%s", i, err, buf)
		}
		size[e.Kind] += valueBytes(&e)
		if want := int64(1436918400000) + i/10; g.Time(i) != want {
			t.Fatalf("event %d at %d ms, want %d (100 µs per event at 10,000 events/s)", i, g.Time(i), want)
		}
		var ts int64
		switch {
		case w.Person != nil:
			p := w.Person
			if p.ID != 1000+persons {
				t.Fatalf("event %d: person id %d, want %d", i, p.ID, 1000+persons)
			}
			persons++
			if !strings.Contains(p.EmailAddress, "@") || len(p.CreditCard) != 19 || p.City == "" || len(p.State) != 2 {
				t.Fatalf("event %d: person %+v", i, *p)
			}
			ts = p.DateTime
		case w.Auction != nil:
			a := w.Auction
			if a.ID != 1000+auctions {
				t.Fatalf("event %d: auction id %d, want %d", i, a.ID, 1000+auctions)
			}
			auctions++
			if a.Seller < 1000 || a.Seller >= 1000+persons || a.Category < 10 || a.Category > 14 || a.Reserve <= a.InitialBid || a.Expires <= a.DateTime {
				t.Fatalf("event %d: auction %+v (people so far: %d)", i, *a, persons)
			}
			if a.Seller == 1000+(persons-1)/100*100 {
				hotSeller++
			}
			expirySum += float64(a.Expires - a.DateTime)
			ts = a.DateTime
		case w.Bid != nil:
			b := w.Bid
			bids++
			if b.Auction < 1000 || b.Auction >= 1000+auctions || b.Bidder < 1000 || b.Bidder >= 1000+persons {
				t.Fatalf("event %d: bid %+v refers to an auction or person that does not exist yet", i, *b)
			}
			if b.Price < 100 || b.Price > 100_000_000 {
				t.Fatalf("event %d: price %d", i, b.Price)
			}
			if b.Price < 100_000 {
				cheap++
			}
			if b.Auction == 1000+(auctions-1)/100*100 {
				hotAuction++
			}
			if b.Bidder == 1000+(persons-1)/100*100 {
				hotBidder++
			}
			checkChannel(t, i, b.Channel, b.URL)
			ts = b.DateTime
		default:
			t.Fatalf("event %d: %s", i, buf)
		}
		if ts != g.Time(i) || ts < prevTime {
			t.Fatalf("event %d: time %d (previous %d, want %d)", i, ts, prevTime, g.Time(i))
		}
		prevTime = ts
	}
	if persons != n/50 || auctions != 3*n/50 || bids != 46*n/50 {
		t.Fatalf("%d people, %d auctions, %d bids in %d events, want 1:3:46", persons, auctions, bids, n)
	}
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.3f, want %.3f ± %.3f", what, got, want, tol)
		}
	}
	// Hot 3 in 4, or 1 in 2; the random picks land on the hot one now and then too.
	near("share of auctions by the hot seller", float64(hotSeller)/float64(auctions), 0.75, 0.03)
	near("share of bids by the hot bidder", float64(hotBidder)/float64(bids), 0.75, 0.02)
	near("share of bids on the hot auction", float64(hotAuction)/float64(bids), 0.50, 0.03)
	near("share of bids under the log-uniform median", float64(cheap)/float64(bids), 0.5, 0.01)
	// 100 auctions take 100 × 50/3 events of 100 µs: 166 ms.
	near("mean time to expiry, ms", expirySum/float64(auctions), 166, 10)
	near("person bytes", float64(size[KindPerson])/float64(persons), 200, 5)
	near("auction bytes", float64(size[KindAuction])/float64(auctions), 500, 5)
	near("bid bytes", float64(size[KindBid])/float64(bids), 100, 15) // long URLs leave only the minimum extra
}

// checkChannel: a known channel has its fixed URL; another is channel-K
// with a URL of three path segments carrying channel_id=K.
func checkChannel(t *testing.T, i int64, channel, raw string) {
	t.Helper()
	for _, c := range knownChannels {
		if channel == c.name {
			if raw != c.url {
				t.Fatalf("event %d: channel %s with URL %s", i, channel, raw)
			}
			return
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("event %d: %v", i, err)
	}
	if got := "channel-" + u.Query().Get("channel_id"); got != channel {
		t.Fatalf("event %d: channel %s, URL %s", i, channel, raw)
	}
	if segs := strings.Split(strings.Trim(u.Path, "/"), "/"); len(segs) != 4 {
		t.Fatalf("event %d: URL %s has path segments %q", i, raw, segs)
	}
}

func TestCount(t *testing.T) {
	var counts [3]int64
	for n := int64(0); n <= 1000; n++ {
		for k := range counts {
			if got := Count(Kind(k), n); got != counts[k] {
				t.Fatalf("Count(%s, %d) = %d, want %d", Kind(k), n, got, counts[k])
			}
		}
		counts[KindOf(n)]++
	}
}

// TestDeterministic: an event depends only on the seed and its number.
func TestDeterministic(t *testing.T) {
	render := func(seed uint64, from, to int64, reverse bool) string {
		g := New(Config{Seed: seed})
		lines := make([]string, to-from)
		var e Event
		for k := range lines {
			i := from + int64(k)
			if reverse {
				i = to - 1 - int64(k)
			}
			g.Event(i, &e)
			lines[i-from] = string(AppendJSON(nil, &e))
		}
		return strings.Join(lines, "\n")
	}
	all := render(1, 0, 5000, false)
	if got := render(1, 0, 5000, true); got != all {
		t.Fatal("generating backwards gives other events")
	}
	slice := render(1, 2000, 3000, false)
	if !strings.Contains(all, slice) {
		t.Fatal("events 2000–2999 generated alone differ from the same events in a run from 0")
	}
	if render(2, 0, 5000, false) == all {
		t.Fatal("seeds 1 and 2 give the same events")
	}
}

func BenchmarkGenerate(b *testing.B) {
	g := New(Config{Seed: 1})
	var e Event
	var buf []byte
	var n int64
	b.ReportAllocs()
	for b.Loop() {
		g.Event(n, &e)
		buf = AppendJSON(buf[:0], &e)
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
