// Package webhook is the webhook sink: it POSTs a stream's events to an
// HTTP endpoint in batches, each batch named by an Idempotency-Key derived
// from the log offsets it covers, and stores its position in Weir's log
// after the endpoint accepted the batch.
//
// It uses the connector API and net/http; it must not import the node, the
// lake or the query engine.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/connect/spec"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/schema"
)

// Spec declares the sink's settings.
var Spec = &spec.Spec{
	Type:    "webhook",
	Summary: "POSTs a stream's events to an HTTP endpoint in batches, at least once, each batch with an Idempotency-Key.",
	Doc: `Each request carries up to ` + "`max_batch`" + ` events as NDJSON (` + "`application/x-ndjson`" + `,
one JSON object per line) or a JSON array (` + "`format: json`" + `), and the headers
` + "`Idempotency-Key`" + ` (the sink, stream and log offsets the batch covers: the same
batch always has the same key), ` + "`Weir-Stream`" + ` and ` + "`Weir-Offsets`" + ` (` + "`<partition>:<from>-<to>`" + `
per partition, end exclusive).

A 2xx answer means the endpoint has the batch; then the sink stores its
position in Weir's log. A crash in between sends the same batch again with
the same key: an endpoint that remembers keys (as Weir's own ingest API does)
sees every event once; any other sees it at least once. 429, 5xx, timeouts and
connection errors are retried with exponential backoff and jitter (honouring
` + "`Retry-After`" + `), holding the batch; the log keeps the stream's records meanwhile. Any
other 4xx stops the node with the endpoint's answer: the batch would never be
taken, and skipping it would lose it.

` + "`${NAME}`" + ` in header values is replaced from the environment (for tokens).`,
	Fields: []spec.Field{
		{Name: "url", Kind: spec.String, Required: true, Doc: "the endpoint, `http://` or `https://`"},
		{Name: "format", Kind: spec.Enum, Enum: []string{"ndjson", "json"}, Default: "ndjson", Doc: "the body: one event per line, or a JSON array"},
		{Name: "headers", Kind: spec.Strings, Doc: "extra request headers, `Name: value` each (e.g. `Authorization: Bearer ${HOOK_TOKEN}`)"},
		{Name: "max_batch", Kind: spec.Int, Default: "500", Min: 1, Max: 100_000, Doc: "events per request at most"},
		{Name: "linger", Kind: spec.Duration, Default: "200ms", Doc: "how long to wait for more events before a smaller request"},
		{Name: "timeout", Kind: spec.Duration, Default: "30s", Doc: "how long one request may take"},
	},
	Example: `sinks:
  alerts_hook:
    type: webhook
    stream: alerts
    url: https://hooks.example.com/weir
    headers: ["Authorization: Bearer ${HOOK_TOKEN}"]`,
}

func init() { connect.RegisterSink(Spec, New) }

// Sink posts one stream.
type Sink struct {
	env       connect.SinkEnv
	url       string
	json      bool
	headers   http.Header
	maxBatch  int
	linger    time.Duration
	client    *http.Client
	mu        sync.Mutex
	committed []int64
}

// New checks the settings and builds the sink.
func New(v spec.Values, env connect.SinkEnv) (connect.Sink, error) {
	s := &Sink{env: env, url: v.String("url"), json: v.String("format") == "json", headers: http.Header{},
		maxBatch: int(v.Int("max_batch")), linger: v.Duration("linger"), client: &http.Client{Timeout: v.Duration("timeout")}}
	if s.env.Logger == nil {
		s.env.Logger = slog.Default()
	}
	u, err := url.Parse(s.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sink %s: url %q is not an http:// or https:// URL", env.Name, s.url)
	}
	for _, h := range v.Strings("headers") {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("sink %s: header %q must be `Name: value`", env.Name, h)
		}
		s.headers.Add(strings.TrimSpace(name), os.ExpandEnv(strings.TrimSpace(value)))
	}
	if s.linger <= 0 {
		s.linger = 200 * time.Millisecond
	}
	s.env.Logger = s.env.Logger.With("sink", env.Name, "url", u.Redacted())
	return s, nil
}

func (s *Sink) key() []byte { return []byte("sink/" + s.env.Name + "/pos") }

// Committed returns the offsets below which every event was accepted.
func (s *Sink) Committed() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.committed)
}

// Run posts until ctx ends.
func (s *Sink) Run(ctx context.Context) error {
	return connect.RunSessions(ctx, "sink "+s.env.Name, s.env.Logger, s.env.Metrics, s.session)
}

func (s *Sink) session(ctx context.Context) error {
	pos, err := s.recover()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.committed = slices.Clone(pos)
	s.mu.Unlock()
	next := slices.Clone(pos)
	var body [][]byte
	b := connect.Batch{Max: s.maxBatch, Linger: s.linger}
	for {
		n, err := connect.ReadRows(s.env, next, b.Room(), func(_ int, _ int64, sc *schema.Schema, vals []schema.Value) {
			body = append(body, schema.AppendJSON(nil, sc.Columns, vals))
		})
		if err != nil {
			return fmt.Errorf("%w: cannot read %s: %v", connect.ErrFatal, s.env.What(), err)
		}
		b.Add(n)
		if !b.Ready() {
			if err := b.Wait(ctx, s.env); err != nil {
				return err
			}
			continue
		}
		if err := s.post(ctx, body, pos, next); err != nil {
			return err
		}
		v, _ := json.Marshal(next)
		if _, err := s.env.Log.Append(ctx, &wlog.Write{Puts: []wlog.Put{{Key: s.key(), Value: v}}}); err != nil {
			return fmt.Errorf("cannot store the position: %w", err) // the batch goes again, with its key
		}
		s.mu.Lock()
		s.committed = slices.Clone(next)
		s.mu.Unlock()
		if s.env.Metrics != nil && s.env.Metrics.SinkRecords != nil {
			s.env.Metrics.SinkRecords.WithLabelValues(s.env.Name).Add(float64(len(body)))
		}
		pos = slices.Clone(next)
		body = nil
		b.Reset()
	}
}

// recover reads the stored position, or starts where the log starts.
func (s *Sink) recover() ([]int64, error) {
	pos, err := s.env.Starts()
	if err != nil {
		return nil, err
	}
	if s.env.Meta == nil {
		return nil, fmt.Errorf("%w: BUG: sink %s has no metadata store", connect.ErrFatal, s.env.Name)
	}
	v, found, err := s.env.Meta.Get(s.key())
	if err != nil || !found {
		return pos, err
	}
	var stored []int64
	if err := json.Unmarshal(v, &stored); err != nil || len(stored) != len(pos) {
		return nil, fmt.Errorf("%w: stored position %q of sink %s does not fit %s", connect.ErrFatal, v, s.env.Name, s.env.What())
	}
	for p := range pos {
		pos[p] = max(pos[p], stored[p])
	}
	return pos, nil
}

// post sends one batch until the endpoint accepts it.
func (s *Sink) post(ctx context.Context, events [][]byte, from, to []int64) error {
	var buf bytes.Buffer
	if s.json {
		buf.WriteByte('[')
		for i, e := range events {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(e)
		}
		buf.WriteByte(']')
	} else {
		for _, e := range events {
			buf.Write(e)
			buf.WriteByte('\n')
		}
	}
	var ranges []string
	for p := range from {
		if to[p] > from[p] {
			ranges = append(ranges, fmt.Sprintf("%d:%d-%d", p, from[p], to[p]))
		}
	}
	offsets := strings.Join(ranges, ",")
	key := s.env.Name + "/" + s.env.Stream + "/" + offsets
	var backoff time.Duration
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(buf.Bytes()))
		if err != nil {
			return fmt.Errorf("%w: %v", connect.ErrFatal, err)
		}
		req.Header = s.headers.Clone()
		req.Header.Set("Content-Type", map[bool]string{true: "application/json", false: "application/x-ndjson"}[s.json])
		req.Header.Set("Idempotency-Key", key)
		req.Header.Set("Weir-Stream", s.env.Stream)
		req.Header.Set("Weir-Offsets", offsets)
		resp, err := s.client.Do(req)
		wait := time.Duration(0)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			s.env.Logger.Warn("webhook sink: the request failed; retrying", "err", err)
		default:
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			switch {
			case resp.StatusCode/100 == 2:
				return nil
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode/100 == 5:
				if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
					wait = time.Duration(min(secs, 300)) * time.Second
				}
				s.env.Logger.Warn("webhook sink: the endpoint cannot take the batch now; retrying", "status", resp.Status, "retry_after", wait)
			default:
				return fmt.Errorf("%w: the endpoint refused a batch of %d events (%s): %s — fix the endpoint or the sink's url and headers, then restart",
					connect.ErrFatal, len(events), resp.Status, strings.TrimSpace(string(msg)))
			}
		}
		backoff = connect.Backoff(backoff, 200*time.Millisecond, 30*time.Second)
		if s.env.Metrics != nil {
			s.env.Metrics.Retries.WithLabelValues(s.env.Name).Inc()
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		} else {
			connect.Sleep(ctx, backoff)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
