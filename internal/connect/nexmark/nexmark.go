// Package nexmark generates the Nexmark benchmark's event stream: people,
// auctions and bids of an online auction site, in the standard proportions
// and with the standard hot spots (see ../shared/brief/NEXMARK.md, the
// model in words; this code is ours).
//
// Every event is a pure function of the seed and its event number, so any
// slice of the stream can be generated on its own, in any order, by any
// number of generators, and two runs with the same seed see the same
// events. Event time advances by a fixed delay per event, with no
// disorder.
//
// This package must not import the node, the log or the query engine: it
// only makes events.
package nexmark

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// Kind says which of the three entities an event is.
type Kind uint8

const (
	KindPerson Kind = iota
	KindAuction
	KindBid
)

func (k Kind) String() string { return [...]string{"person", "auction", "bid"}[k] }

// The fixed pattern of every block of 50 events: 1 person, 3 auctions, 46
// bids.
const (
	blockSize       = 50
	personsPerBlock = 1
	auctionsPerBlk  = 3
	firstID         = 1000 // person and auction ids are dense from here
	hotBlock        = 100  // hot seller, bidder and auction: the first of the latest block of 100
	recentPeople    = 1000 // sellers and bidders that are not hot: among the newest 1000 people
	recentAuctions  = 100  // bids that are not on the hot auction: on one of the newest 100
)

// Config fixes the stream.
type Config struct {
	Seed uint64
	// Rate is events per second of event time (not wall time): event n
	// happens at BaseTime + n × 1e6/Rate µs. Default 10,000.
	Rate float64
	// BaseTime is the event time of event 0, Unix milliseconds. Default
	// 2015-07-15T00:00:00Z, Nexmark's customary start.
	BaseTime int64
}

func (c Config) withDefaults() Config {
	if c.Rate <= 0 {
		c.Rate = 10_000
	}
	if c.BaseTime == 0 {
		c.BaseTime = 1436918400000
	}
	return c
}

// Person is a registered user.
type Person struct {
	ID           int64
	Name         string
	EmailAddress string
	CreditCard   string
	City         string
	State        string
	DateTime     int64 // Unix milliseconds
	Extra        string
}

// Auction is an item put up for sale by a person.
type Auction struct {
	ID          int64
	ItemName    string
	Description string
	InitialBid  int64
	Reserve     int64
	DateTime    int64
	Expires     int64
	Seller      int64
	Category    int64
	Extra       string
}

// Bid is a person's offer on an auction. Price is in cents.
type Bid struct {
	Auction  int64
	Bidder   int64
	Price    int64
	Channel  string
	URL      string
	DateTime int64
	Extra    string
}

// Event is one event of the stream; Kind says which field is set.
type Event struct {
	Kind    Kind
	Person  Person
	Auction Auction
	Bid     Bid
}

// Generator makes events. It is not safe for concurrent use: give each
// goroutine its own (they agree, as every event depends on the seed and
// its number only).
type Generator struct {
	cfg   Config
	delay float64 // µs per event
	rng   rand.PCG
	buf   []byte
	// channels are the names of the other channels, made once each.
	channels []string
}

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	cfg = cfg.withDefaults()
	return &Generator{cfg: cfg, delay: 1e6 / cfg.Rate}
}

// KindOf returns the kind of event n.
func KindOf(n int64) Kind {
	switch r := n % blockSize; {
	case r < personsPerBlock:
		return KindPerson
	case r < personsPerBlock+auctionsPerBlk:
		return KindAuction
	}
	return KindBid
}

// Count returns how many of the events [0, n) are of kind k.
func Count(k Kind, n int64) int64 {
	per := [...]int64{KindPerson: personsPerBlock, KindAuction: auctionsPerBlk, KindBid: blockSize - personsPerBlock - auctionsPerBlk}
	first := [...]int64{KindPerson: 0, KindAuction: personsPerBlock, KindBid: personsPerBlock + auctionsPerBlk}
	rest := n % blockSize
	return n/blockSize*per[k] + min(max(rest-first[k], 0), per[k])
}

// lastPerson is the index (from 0) of the newest person at event n, which
// is at least 0 since event 0 is a person.
func lastPerson(n int64) int64 { return n / blockSize }

// lastAuction is the index of the newest auction before event n, or of
// the auction event n is; -1 before the first.
func lastAuction(n int64) int64 {
	r := n % blockSize
	return n/blockSize*auctionsPerBlk + min(max(r-personsPerBlock+1, 0), auctionsPerBlk) - 1
}

// Time returns the event time of event n, Unix milliseconds.
func (g *Generator) Time(n int64) int64 {
	return g.cfg.BaseTime + int64(float64(n)*g.delay)/1000
}

// Event fills e with event n.
func (g *Generator) Event(n int64, e *Event) {
	g.rng.Seed(g.cfg.Seed, uint64(n))
	e.Kind = KindOf(n)
	ts := g.Time(n)
	switch e.Kind {
	case KindPerson:
		g.person(n, ts, &e.Person)
	case KindAuction:
		g.auction(n, ts, &e.Auction)
	default:
		g.bid(n, ts, &e.Bid)
	}
}

func (g *Generator) intn(n int64) int64 { return int64(g.rng.Uint64() % uint64(n)) }

func (g *Generator) pick(list []string) string { return list[g.intn(int64(len(list)))] }

// oneIn reports true with probability 1/n.
func (g *Generator) oneIn(n int64) bool { return g.intn(n) == 0 }

// personFor is the id of the hot person (hotOdds-1) times in hotOdds,
// otherwise of one of the newest people at event n.
func (g *Generator) personFor(n int64, hotOdds int64) int64 {
	last := lastPerson(n)
	if g.intn(hotOdds) != 0 {
		return firstID + last/hotBlock*hotBlock
	}
	return firstID + last - g.intn(min(last+1, recentPeople))
}

func (g *Generator) person(n, ts int64, p *Person) {
	p.ID = firstID + lastPerson(n)
	first, last := g.pick(firstNames), g.pick(lastNames)
	p.Name = first + " " + last
	p.EmailAddress = lower(first) + "." + lower(last) + "@" + g.pick(domains)
	g.buf = g.buf[:0]
	for i := range 4 {
		if i > 0 {
			g.buf = append(g.buf, ' ')
		}
		g.buf = appendPadded(g.buf, g.intn(10000), 4)
	}
	p.CreditCard = string(g.buf)
	p.City = g.pick(cities)
	p.State = g.pick(states)
	p.DateTime = ts
	p.Extra = ""
	p.Extra = g.extra(personBytes - valueBytes(&Event{Kind: KindPerson, Person: *p}))
}

func (g *Generator) auction(n, ts int64, a *Auction) {
	a.ID = firstID + lastAuction(n)
	a.ItemName = g.pick(adjectives) + " " + g.pick(items)
	a.Description = g.pick(adjectives) + " " + g.pick(adjectives) + " " + g.pick(items) + ", " + g.pick(conditions)
	a.InitialBid = 100 * (1 + g.intn(1000))
	a.Reserve = a.InitialBid + 100*(1+g.intn(1000))
	a.DateTime = ts
	// On average about the event time of 100 more auctions.
	mean := 100 * blockSize / auctionsPerBlk * g.delay / 1000 // ms
	a.Expires = ts + 1 + g.intn(int64(2*mean))
	a.Seller = g.personFor(n, 4)
	a.Category = 10 + g.intn(5)
	a.Extra = ""
	a.Extra = g.extra(auctionBytes - valueBytes(&Event{Kind: KindAuction, Auction: *a}))
}

// knownChannels have fixed URLs; the other channels are channel-0 …
// channel-9999, with a URL that carries channel_id.
var knownChannels = [...]struct{ name, url string }{
	{"Google", "https://www.nexmark.com/google/item.htm?query=1"},
	{"Facebook", "https://www.nexmark.com/facebook/item.htm?query=1"},
	{"Baidu", "https://www.nexmark.com/baidu/item.htm?query=1"},
	{"Apple", "https://www.nexmark.com/apple/item.htm?query=1"},
}

const otherChannels = 10_000

// The bounds of a bid's price, as logarithms (Go does not fold math.Log
// of a constant: it was 1% of a run).
var logMinPrice, logMaxPrice = math.Log(100), math.Log(1e8)

func (g *Generator) bid(n, ts int64, b *Bid) {
	last := lastAuction(n)
	if g.oneIn(2) {
		b.Auction = firstID + last/hotBlock*hotBlock
	} else {
		b.Auction = firstID + last - g.intn(min(last+1, recentAuctions))
	}
	b.Bidder = g.personFor(n, 4)
	// Log-uniform between 100 and 100,000,000 cents.
	u := float64(g.rng.Uint64()>>11) / (1 << 53) // uniform in [0, 1)
	b.Price = int64(math.Round(math.Exp(logMinPrice + u*(logMaxPrice-logMinPrice))))
	if g.oneIn(2) {
		c := knownChannels[g.intn(int64(len(knownChannels)))]
		b.Channel, b.URL = c.name, c.url
	} else {
		id := g.intn(otherChannels)
		if g.channels == nil {
			g.channels = make([]string, otherChannels)
		}
		if g.channels[id] == "" {
			g.channels[id] = "channel-" + strconv.FormatInt(id, 10)
		}
		b.Channel = g.channels[id]
		g.buf = append(g.buf[:0], "https://www.nexmark.com/"...)
		g.buf = append(g.buf, g.pick(pathWords)...)
		g.buf = append(g.buf, '/')
		g.buf = append(g.buf, g.pick(pathWords)...)
		g.buf = append(g.buf, '/')
		g.buf = append(g.buf, g.pick(pathWords)...)
		g.buf = append(g.buf, "/item.htm?query=1&channel_id="...)
		g.buf = strconv.AppendInt(g.buf, id, 10)
		b.URL = string(g.buf)
	}
	b.DateTime = ts
	b.Extra = ""
	b.Extra = g.extra(bidBytes - valueBytes(&Event{Kind: KindBid, Bid: *b}))
}

// The standard sizes of the events: the bytes of their field values, as
// text, extra included.
const (
	personBytes  = 200
	auctionBytes = 500
	bidBytes     = 100
)

// valueBytes is the size of e's field values as text.
func valueBytes(e *Event) int {
	digits := func(xs ...int64) (n int) {
		for _, x := range xs {
			if x < 0 {
				n, x = n+1, -x
			}
			for n++; x >= 10; x /= 10 {
				n++
			}
		}
		return n
	}
	switch e.Kind {
	case KindPerson:
		p := &e.Person
		return digits(p.ID, p.DateTime) + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State) + len(p.Extra)
	case KindAuction:
		a := &e.Auction
		return digits(a.ID, a.InitialBid, a.Reserve, a.DateTime, a.Expires, a.Seller, a.Category) + len(a.ItemName) + len(a.Description) + len(a.Extra)
	}
	b := &e.Bid
	return digits(b.Auction, b.Bidder, b.Price, b.DateTime) + len(b.Channel) + len(b.URL) + len(b.Extra)
}

// extra is filler text of n bytes (at least 8), which brings an event to
// its standard size: a slice of a fixed pool of random characters, at a
// random place.
func (g *Generator) extra(n int) string {
	n = min(max(n, 8), len(fillerPool))
	off := g.intn(int64(len(fillerPool)-n) + 1)
	return fillerPool[off : off+int64(n)]
}

const fillerChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// fillerPool is 4 KiB of characters from fillerChars, the same in every
// run.
var fillerPool = func() string {
	var rng rand.PCG
	rng.Seed(0x6e65786d61726b, 1)
	b := make([]byte, 4096)
	for i := range b {
		b[i] = fillerChars[rng.Uint64()%uint64(len(fillerChars))]
	}
	return string(b)
}()

func appendPadded(dst []byte, x int64, width int) []byte {
	s := strconv.AppendInt(nil, x, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

var (
	firstNames = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter", "Ana", "Ravi", "Mei", "Omar", "Ines"}
	lastNames  = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris", "Okafor", "Tanaka", "Silva", "Novak", "Haddad"}
	domains    = []string{"example.com", "mail.example.org", "auction.example.net"}
	cities     = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	states     = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	adjectives = []string{"vintage", "rare", "signed", "mint", "antique", "handmade", "restored", "limited", "classic", "modern"}
	items      = []string{"guitar", "watch", "lamp", "chair", "camera", "bicycle", "vase", "poster", "radio", "typewriter", "rug", "clock"}
	conditions = []string{"as new", "lightly used", "some wear", "for parts", "boxed"}
	pathWords  = []string{"shop", "item", "deal", "sale", "lot", "offer", "bid", "auction", "catalog", "market", "store", "page"}
)
