// Package gate is the only way into Weir: it splits a request body into
// records, decodes and validates each against its stream's compiled schema,
// routes accepted records to partitions by key hash, and appends them — with
// the rejected ones, to the stream's quarantine, and with the request's
// idempotency record — in one atomic, durable log write. It answers only
// once that write is durable, so received = accepted + quarantined holds for
// every request that gets an answer.
//
// The gate knows the log and the schema package; it must not import the
// lake, the serving layer or the HTTP API.
package gate

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fastjson"
	"golang.org/x/sync/semaphore"

	"github.com/weirhq/weir/internal/failpoint"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/schema"
)

// Format is the encoding of a request body.
type Format int

// Body formats.
const (
	NDJSON Format = iota + 1 // one JSON object per line
	JSON                     // one object, or an array of objects
	// Records: Request.Records holds one JSON object per element, as a
	// message-based source (Kafka, MQTT) receives them; Body is unused.
	Records
)

// Errors the caller maps to answers (the HTTP API: 404, 429, 422, 503).
var (
	ErrUnknownStream       = errors.New("unknown stream")
	ErrOverloaded          = errors.New("ingest is over its in-flight memory budget")
	ErrIdempotencyMismatch = errors.New("idempotency key was used with a different body")
	ErrUnavailable         = errors.New("the log cannot accept writes")
	// ErrBacklog: the stream's views and sinks are too far behind; the
	// caller should retry later (HTTP 429). Nothing of the request is stored.
	ErrBacklog = errors.New("the stream's backlog is over its limit")
)

// Stream is what the gate needs to know of a stream.
type Stream struct {
	Name       string
	Schema     *schema.Schema
	Version    uint32 // schema version, stored with every chunk
	KeyCols    []int
	Partitions int
}

// QuarantineStream is the name of the log stream holding the rejected
// records of stream s (one partition).
func QuarantineStream(s string) string { return s + "/quarantine" }

// Options configure a Gate.
type Options struct {
	// MaxInFlightBytes bounds the request bodies being processed at once;
	// past it Ingest waits up to AdmitWait, then fails with ErrOverloaded.
	MaxInFlightBytes int64
	AdmitWait        time.Duration
	// MaxRecordBytes bounds one record; larger ones are quarantined.
	MaxRecordBytes int
	// IdempotencyTTL is how long idempotency keys are remembered.
	IdempotencyTTL time.Duration
	Metrics        *Metrics
	Now            func() time.Time
	// Admit is asked before each request is processed (backpressure: a
	// stream's consumers too far behind, the node over its memory
	// budget). A non-nil error, wrapping ErrBacklog or ErrOverloaded,
	// refuses the request; nothing of it is stored. Nil Admit: always admit.
	Admit func(stream string) error
}

// Metrics are the gate's Prometheus metrics, labelled by stream.
type Metrics struct {
	Received    *prometheus.CounterVec
	Accepted    *prometheus.CounterVec
	Quarantined *prometheus.CounterVec
	Bytes       *prometheus.CounterVec
	// Replayed counts quarantined records a replay accepted into the stream.
	Replayed *prometheus.CounterVec
	// BySource counts received records by stream and Request.Source.
	BySource *prometheus.CounterVec
}

// Gate validates and appends records. It is safe for concurrent use.
type Gate struct {
	log     wlog.Log
	meta    wlog.Meta
	opts    Options
	streams map[string]*stream
	admit   *semaphore.Weighted

	mu       sync.Mutex
	inflight map[string]*inflight // idempotency keys being processed
	replayMu sync.Mutex           // one Replay at a time
}

type stream struct {
	Stream
	decoders sync.Pool
}

type inflight struct {
	done chan struct{}
}

// New returns a gate over the given streams. It declares each stream and its
// quarantine in the log.
func New(l wlog.Log, meta wlog.Meta, streams []Stream, opts Options) (*Gate, error) {
	if opts.MaxInFlightBytes == 0 {
		opts.MaxInFlightBytes = 256 << 20
	}
	if opts.AdmitWait == 0 {
		opts.AdmitWait = time.Second
	}
	if opts.MaxRecordBytes == 0 {
		opts.MaxRecordBytes = 1 << 20
	}
	if opts.IdempotencyTTL == 0 {
		opts.IdempotencyTTL = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	g := &Gate{
		log: l, meta: meta, opts: opts,
		streams:  map[string]*stream{},
		admit:    semaphore.NewWeighted(opts.MaxInFlightBytes),
		inflight: map[string]*inflight{},
	}
	for _, s := range streams {
		if err := l.EnsureStream(s.Name, s.Partitions); err != nil {
			return nil, err
		}
		if err := l.EnsureStream(QuarantineStream(s.Name), 1); err != nil {
			return nil, err
		}
		st := &stream{Stream: s}
		st.decoders.New = func() any { return schema.NewDecoder(st.Schema, st.KeyCols) }
		g.streams[s.Name] = st
	}
	return g, nil
}

// Streams returns the names of the gate's streams.
func (g *Gate) Streams() []string {
	out := make([]string, 0, len(g.streams))
	for n := range g.streams {
		out = append(out, n)
	}
	return out
}

// Result is the answer to an ingest request.
type Result struct {
	Accepted    int           `json:"accepted"`
	Quarantined int           `json:"quarantined"`
	Errors      []RecordError `json:"errors,omitempty"` // the first few rejections
}

// RecordError says why one record of a request was quarantined.
type RecordError struct {
	Index  int    `json:"index"` // 0-based position of the record in the request
	Reason string `json:"reason"`
}

const maxResultErrors = 10

// Request is one ingest call.
type Request struct {
	Stream         string
	Format         Format
	Body           []byte
	Records        [][]byte // Format Records
	IdempotencyKey string   // empty: none
	Source         string   // "http", "generator", ...
	// Puts are metadata written in the same atomic log batch as the
	// request's records: a source's position in what it reads (Kafka
	// offsets), so records and position are durable together or not at all.
	Puts []wlog.Put
	// Origin, when set, says where record i came from ("orders.csv line
	// 17"); it is stored with the record if the record is quarantined.
	Origin func(i int) string
	// Original, when set, returns record i as it was received (a CSV row),
	// stored in the quarantine instead of the JSON record built from it.
	Original func(i int) []byte
	// Rejects are records the source itself refused (a truncated file, a
	// checksum mismatch): they go to the quarantine as they are, counted as
	// quarantined, in the same batch as the rest of the request.
	Rejects []Reject
}

// Reject is a record a source refused before the gate decoded it.
type Reject struct {
	Reason string
	Rule   string // a short name of the check that failed: "checksum", "truncated", ...
	Raw    []byte
	Origin string
}

// Ingest validates the request's records and appends them durably. The
// Result counts every record as accepted or quarantined.
func (g *Gate) Ingest(ctx context.Context, req Request) (Result, error) {
	st, ok := g.streams[req.Stream]
	if !ok {
		return Result{}, fmt.Errorf("%w %q", ErrUnknownStream, req.Stream)
	}
	if g.opts.Admit != nil {
		if err := g.opts.Admit(req.Stream); err != nil {
			return Result{}, err
		}
	}
	weight := int64(req.size())*2 + 4096 // the body plus the rows built from it
	weight = min(weight, g.opts.MaxInFlightBytes)
	actx, cancel := context.WithTimeout(ctx, g.opts.AdmitWait)
	err := g.admit.Acquire(actx, weight)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return Result{}, ErrOverloaded
	}
	defer g.admit.Release(weight)

	if req.IdempotencyKey == "" {
		return g.ingest(ctx, st, req, nil)
	}
	return g.ingestIdempotent(ctx, st, req)
}

type idemRecord struct {
	Hash   uint64 `json:"hash"`
	At     int64  `json:"at"` // Unix ms
	Result Result `json:"result"`
}

// size is the request's bytes of records.
func (req *Request) size() int {
	n := len(req.Body)
	for _, r := range req.Records {
		n += len(r)
	}
	for _, r := range req.Rejects {
		n += len(r.Raw)
	}
	return n
}

func idemKey(stream, key string) []byte { return []byte("idem/" + stream + "/" + key) }

func (g *Gate) ingestIdempotent(ctx context.Context, st *stream, req Request) (Result, error) {
	h := xxhash.New()
	h.WriteString(req.Stream)
	h.Write([]byte{0, byte(req.Format)})
	h.Write(req.Body)
	var lb [binary.MaxVarintLen64]byte
	for _, r := range req.Records {
		h.Write(binary.AppendUvarint(lb[:0], uint64(len(r)))) // so ["ab","c"] differs from ["a","bc"]
		h.Write(r)
	}
	for _, r := range req.Rejects {
		h.WriteString(r.Reason)
		h.Write(binary.AppendUvarint(lb[:0], uint64(len(r.Raw))))
		h.Write(r.Raw)
	}
	hash := h.Sum64()
	mk := req.Stream + "\x00" + req.IdempotencyKey
	for {
		g.mu.Lock()
		f, busy := g.inflight[mk]
		if !busy {
			f = &inflight{done: make(chan struct{})}
			g.inflight[mk] = f
			g.mu.Unlock()
			break
		}
		g.mu.Unlock()
		select { // the same key is being processed: wait, then look again
		case <-f.done:
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
	defer func() {
		g.mu.Lock()
		close(g.inflight[mk].done)
		delete(g.inflight, mk)
		g.mu.Unlock()
	}()
	key := idemKey(req.Stream, req.IdempotencyKey)
	v, found, err := g.meta.Get(key)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if found {
		var rec idemRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return Result{}, fmt.Errorf("%w: idempotency record: %v", wlog.ErrCorrupt, err)
		}
		if rec.Hash != hash {
			return Result{}, ErrIdempotencyMismatch
		}
		return rec.Result, nil
	}
	return g.ingest(ctx, st, req, func(r Result) wlog.Put {
		v, _ := json.Marshal(idemRecord{Hash: hash, At: g.opts.Now().UnixMilli(), Result: r})
		return wlog.Put{Key: key, Value: v}
	})
}

// QuarantineRecord is a rejected record as stored and listed.
type QuarantineRecord struct {
	Stream        string    `json:"stream"`
	Reason        string    `json:"reason"`
	Field         string    `json:"field,omitempty"`
	Rule          string    `json:"rule,omitempty"`
	Raw           []byte    `json:"raw"`
	SchemaVersion uint32    `json:"schema_version"`
	ReceivedAt    time.Time `json:"received_at"`
	Index         int       `json:"index"`
	Source        string    `json:"source,omitempty"`
	Origin        string    `json:"origin,omitempty"`      // where in the source: a file and line
	RequestKey    string    `json:"request_key,omitempty"` // the idempotency key, if any
	// Offset and Replayed are set by ListQuarantine, never stored: the
	// record's offset in the quarantine (what Replay takes) and whether a
	// replay has accepted it into the stream.
	Offset   int64 `json:"offset,omitempty"`
	Replayed bool  `json:"replayed,omitempty"`
}

// batchBuf collects one request's rows per partition.
type batchBuf struct {
	parts  [][]byte
	counts []int
	row    []byte
	elem   []byte // the JSON array element at hand
	quar   []byte
	nquar  int
	res    Result
}

var bufPool = sync.Pool{New: func() any { return &batchBuf{} }}

func (g *Gate) ingest(ctx context.Context, st *stream, req Request, idem func(Result) wlog.Put) (Result, error) {
	b := bufPool.Get().(*batchBuf)
	reuse := true // false once a write that may still be queued references b
	defer func() {
		if reuse {
			bufPool.Put(b)
		}
	}()
	if cap(b.parts) < st.Partitions {
		b.parts = make([][]byte, st.Partitions)
		b.counts = make([]int, st.Partitions)
	}
	b.parts, b.counts = b.parts[:st.Partitions], b.counts[:st.Partitions]
	for i := range b.parts {
		b.parts[i], b.counts[i] = b.parts[i][:0], 0
	}
	b.quar, b.nquar, b.res = b.quar[:0], 0, Result{}

	dec := st.decoders.Get().(*schema.Decoder)
	defer st.decoders.Put(dec)
	now := g.opts.Now()
	quarantine := func(rec *QuarantineRecord) {
		enc, _ := json.Marshal(rec)
		b.quar = wlog.AppendRecord(b.quar, enc)
		b.nquar++
		b.res.Quarantined++
		if len(b.res.Errors) < maxResultErrors {
			b.res.Errors = append(b.res.Errors, RecordError{Index: rec.Index, Reason: rec.Reason})
		}
	}
	reject := func(index int, raw []byte, err error) {
		var v *schema.Violation
		rec := QuarantineRecord{Stream: st.Name, Reason: err.Error(), Raw: raw, SchemaVersion: st.Version,
			ReceivedAt: now, Index: index, Source: req.Source, RequestKey: req.IdempotencyKey}
		if errors.As(err, &v) {
			rec.Field, rec.Rule = v.Field, v.Rule
		}
		if req.Origin != nil {
			rec.Origin = req.Origin(index)
		}
		if req.Original != nil {
			rec.Raw = req.Original(index)
		}
		quarantine(&rec)
	}
	accept := func(d schema.Decoded) {
		p := int(d.KeyHash % uint64(st.Partitions))
		b.parts[p] = wlog.AppendRecord(b.parts[p], d.Row)
		b.counts[p]++
		b.res.Accepted++
	}
	// one validates the record raw; jsonHint is added to a JSON syntax
	// rejection when the body's shape suggests a likely cause.
	one := func(index int, raw []byte, jsonHint string) {
		if len(raw) > g.opts.MaxRecordBytes {
			reject(index, raw, &schema.Violation{Rule: "size", Detail: fmt.Sprintf("record is %d bytes, over the %d-byte limit", len(raw), g.opts.MaxRecordBytes)})
			return
		}
		d, err := dec.Decode(b.row[:0], raw)
		if err != nil {
			var v *schema.Violation
			if jsonHint != "" && errors.As(err, &v) && v.Rule == "json" {
				v.Detail += jsonHint
			}
			reject(index, raw, err)
			return
		}
		b.row = d.Row
		accept(d)
	}

	for i, r := range req.Rejects {
		quarantine(&QuarantineRecord{Stream: st.Name, Reason: r.Reason, Rule: r.Rule, Raw: r.Raw, SchemaVersion: st.Version,
			ReceivedAt: now, Index: i, Source: req.Source, Origin: r.Origin, RequestKey: req.IdempotencyKey})
	}
	body := bytes.TrimPrefix(req.Body, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	switch req.Format {
	case NDJSON:
		index := 0
		for len(body) > 0 {
			line := body
			if i := bytes.IndexByte(body, '\n'); i >= 0 {
				line, body = body[:i], body[i+1:]
			} else {
				body = nil
			}
			line = bytes.TrimSuffix(line, []byte{'\r'})
			if isBlank(line) {
				continue
			}
			one(index, line, "")
			index++
		}
	case Records:
		for i, r := range req.Records {
			one(i, r, "")
		}
	case JSON:
		trimmed := bytes.TrimSpace(body)
		switch {
		case len(trimmed) == 0:
		case trimmed[0] == '[':
			var p fastjson.Parser
			v, err := p.ParseBytes(trimmed)
			if err != nil {
				reject(0, trimmed, &schema.Violation{Rule: "json", Detail: "invalid JSON array: " + err.Error() +
					"; the whole body is quarantined as one record (send NDJSON to keep good lines apart from bad ones)"})
				break
			}
			// Each element as written is one record: the same path as an
			// NDJSON line (fastjson splits leniently; Decode judges strictly).
			for i, el := range v.GetArray() {
				b.elem = el.MarshalTo(b.elem[:0])
				one(i, b.elem, "")
			}
		default:
			hint := ""
			if bytes.IndexByte(trimmed, '\n') >= 0 {
				hint = "; to send one event per line use Content-Type: application/x-ndjson"
			}
			one(0, trimmed, hint)
		}
	default:
		panic(fmt.Sprintf("BUG: unknown body format %d", req.Format))
	}

	w := &wlog.Write{}
	for p := range b.parts {
		if b.counts[p] > 0 {
			w.Chunks = append(w.Chunks, wlog.Chunk{Stream: st.Name, Partition: p, Meta: st.Version, Count: b.counts[p], Payload: b.parts[p]})
		}
	}
	if b.nquar > 0 {
		w.Chunks = append(w.Chunks, wlog.Chunk{Stream: QuarantineStream(st.Name), Meta: st.Version, Count: b.nquar, Payload: b.quar})
	}
	res := b.res
	w.Puts = append(w.Puts, req.Puts...)
	if idem != nil {
		w.Puts = append(w.Puts, idem(res))
	}
	if len(w.Chunks) > 0 || len(w.Puts) > 0 {
		if _, err := g.log.Append(ctx, w); err != nil {
			reuse = false
			if ctx.Err() != nil {
				return Result{}, ctx.Err()
			}
			return Result{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		failpoint.Hit(failpoint.LogAfterCommit)
	}
	if m := g.opts.Metrics; m != nil {
		m.Received.WithLabelValues(st.Name).Add(float64(res.Accepted + res.Quarantined))
		m.Accepted.WithLabelValues(st.Name).Add(float64(res.Accepted))
		m.Quarantined.WithLabelValues(st.Name).Add(float64(res.Quarantined))
		m.Bytes.WithLabelValues(st.Name).Add(float64(req.size()))
		if m.BySource != nil {
			src := req.Source
			if src == "" {
				src = "unknown"
			}
			m.BySource.WithLabelValues(st.Name, src).Add(float64(res.Accepted + res.Quarantined))
		}
	}
	return res, nil
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// ListQuarantine returns up to limit of the newest quarantined records of a
// stream, newest last.
func (g *Gate) ListQuarantine(stream string, limit int) ([]QuarantineRecord, error) {
	if _, ok := g.streams[stream]; !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownStream, stream)
	}
	qs := QuarantineStream(stream)
	end, err := g.log.End(qs, 0)
	if err != nil {
		return nil, err
	}
	var out []QuarantineRecord
	err = g.scanQuarantine(context.Background(), stream, max(end-int64(limit), 0), end, func(off int64, rec []byte) (bool, error) {
		var q QuarantineRecord
		if err := json.Unmarshal(rec, &q); err != nil {
			q = QuarantineRecord{Stream: stream, Reason: "unreadable quarantine entry at offset " + strconv.FormatInt(off, 10) + ": " + err.Error()}
		}
		q.Offset, q.Replayed = off, g.replayed(stream, off)
		out = append(out, q)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PruneIdempotency forgets idempotency keys older than the TTL.
func (g *Gate) PruneIdempotency() (int, error) {
	cutoff := g.opts.Now().Add(-g.opts.IdempotencyTTL).UnixMilli()
	var old [][]byte
	err := g.meta.Scan([]byte("idem/"), func(k, v []byte) bool {
		var rec idemRecord
		if json.Unmarshal(v, &rec) != nil || rec.At < cutoff {
			old = append(old, append([]byte(nil), k...))
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	for _, k := range old {
		if err := g.meta.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(old), nil
}
