// Package generator is the built-in synthetic clickstream source used by
// `weir demo`: it posts NDJSON batches through the gate at a steady rate,
// with a share of deliberately invalid events so the quarantine has content.
//
// Like every connector it only uses the connector API and the gate's
// ingest call.
package generator

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/gate"
)

// Spec declares the source's settings.
var Spec = &spec.Spec{
	Type:    "generator",
	Summary: "Generates a synthetic website clickstream (the `weir demo` data), with a share of invalid events.",
	Doc: `Events have the fields of examples/clickstream/schemas/clicks.json: ` + "`ts`" + ` (now, up
to 3 s back, half as RFC 3339 and half as epoch milliseconds), ` + "`user_id`" + `, ` + "`url`" + `,
` + "`status`" + `, ` + "`amount`" + ` (a quarter of them) and ` + "`country`" + `. A ` + "`bad_ratio`" + ` share is invalid on
purpose — a wrong type, a missing field, a bad country code, a cut line — so
the quarantine has something to show. Batches go to the gate ten times a
second; a batch the stream cannot take is logged and dropped (it is
synthetic).`,
	Fields: []spec.Field{
		{Name: "rate", Kind: spec.Float, Default: "1000", FloatMin: 0, FloatMax: 10_000_000, Doc: "events per second (0: none)"},
		{Name: "bad_ratio", Kind: spec.Float, Default: "0.01", FloatMin: 0, FloatMax: 1, Doc: "the share of invalid events"},
	},
	Example: `sources:
  synthetic:
    type: generator
    stream: clicks
    rate: 2000
    bad_ratio: 0.01`,
}

func init() {
	connect.RegisterSource(Spec, func(v spec.Values, env connect.Env) (connect.Source, error) {
		logger := env.Logger
		if logger == nil {
			logger = slog.Default()
		}
		return source{env: env, o: Options{Stream: env.Stream, Rate: v.Float("rate"), BadRatio: v.Float("bad_ratio"),
			Seed: uint64(time.Now().UnixNano()), Logger: logger}}, nil
	})
}

type source struct {
	env connect.Env
	o   Options
}

func (s source) Run(ctx context.Context) error { return Run(ctx, s.env.Gate, s.o) }

// Options configure the generator.
type Options struct {
	Stream   string
	Rate     float64 // events per second
	BadRatio float64 // share of invalid events
	Seed     uint64
	Logger   *slog.Logger
}

var (
	urls      = []string{"/", "/search", "/product/42", "/product/7", "/cart", "/checkout", "/help", "/blog/launch"}
	countries = []string{"US", "DE", "FR", "GB", "JP", "BR", "IN", "NL"}
	statuses  = []int{200, 200, 200, 200, 200, 301, 304, 404, 500}
)

// Run generates events until ctx ends.
func Run(ctx context.Context, g connect.Ingester, o Options) error {
	if o.Rate <= 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(o.Seed, 42))
	const ticks = 10 // batches per second
	tick := time.NewTicker(time.Second / ticks)
	defer tick.Stop()
	carry := 0.0
	var body []byte
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		carry += o.Rate / ticks
		n := int(carry)
		carry -= float64(n)
		body = body[:0]
		now := time.Now()
		for range n {
			body = appendEvent(body, r, now, o.BadRatio)
		}
		if n == 0 {
			continue
		}
		if _, err := g.Ingest(ctx, gate.Request{Stream: o.Stream, Format: gate.NDJSON, Body: body, Source: "generator"}); err != nil && ctx.Err() == nil {
			o.Logger.Warn("generator could not ingest a batch", "stream", o.Stream, "err", err)
		}
	}
}

func appendEvent(b []byte, r *rand.Rand, now time.Time, badRatio float64) []byte {
	ts := now.Add(-time.Duration(r.Int64N(int64(3 * time.Second)))) // some disorder
	user := "u" + strconv.Itoa(int(r.ExpFloat64()*200)%5000)
	status := statuses[r.IntN(len(statuses))]
	amount := "null"
	if r.IntN(4) == 0 {
		amount = strconv.FormatFloat(float64(r.IntN(20000))/100, 'f', 2, 64)
	}
	country := countries[r.IntN(len(countries))]
	if r.Float64() < badRatio {
		switch r.IntN(4) {
		case 0: // wrong type
			return fmt.Appendf(b, `{"ts":%q,"user_id":%q,"url":%q,"status":"oops","amount":%s,"country":%q}`+"\n", ts.Format(time.RFC3339Nano), user, urls[r.IntN(len(urls))], amount, country)
		case 1: // missing required field
			return fmt.Appendf(b, `{"ts":%q,"url":%q,"status":%d,"country":%q}`+"\n", ts.Format(time.RFC3339Nano), urls[r.IntN(len(urls))], status, country)
		case 2: // bad country code
			return fmt.Appendf(b, `{"ts":%q,"user_id":%q,"url":%q,"status":%d,"amount":%s,"country":"usa"}`+"\n", ts.Format(time.RFC3339Nano), user, urls[r.IntN(len(urls))], status, amount)
		default: // truncated line
			return fmt.Appendf(b, `{"ts":%q,"user_id":%q,"url":`+"\n", ts.Format(time.RFC3339Nano), user)
		}
	}
	if r.IntN(2) == 0 { // half the events carry epoch milliseconds
		return fmt.Appendf(b, `{"ts":%d,"user_id":%q,"url":%q,"status":%d,"amount":%s,"country":%q}`+"\n", ts.UnixMilli(), user, urls[r.IntN(len(urls))], status, amount, country)
	}
	return fmt.Appendf(b, `{"ts":%q,"user_id":%q,"url":%q,"status":%d,"amount":%s,"country":%q}`+"\n", ts.Format(time.RFC3339Nano), user, urls[r.IntN(len(urls))], status, amount, country)
}
