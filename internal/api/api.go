// Package api is Weir's HTTP interface: ingest, query, quarantine, metrics
// and health. It translates HTTP to calls on the gate and the query engine
// and their errors to status codes with a stable error code and a message
// that says what to do.
//
// This package must not reach into the log or the lake directly.
package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/serve"
)

// Options configure the API.
type Options struct {
	Gate *gate.Gate
	// Query runs a statement of POST /v1/query: SQL over tables, or view DDL.
	Query        func(ctx context.Context, sql string) (*serve.Result, error)
	Registry     *prometheus.Registry
	Logger       *slog.Logger
	MaxBodyBytes int64 // default 16 MiB
	Ready        *atomic.Bool
	Requests     *prometheus.CounterVec // by route and code
	// Status, when set, answers GET /v1/status and feeds GET /v1/live.
	Status func() Status
	// UI, when set, serves the dashboard at GET / and GET /ui/...; without
	// it GET / lists the endpoints.
	UI http.Handler
}

// Handler returns the API's HTTP handler.
func Handler(o Options) http.Handler {
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 16 << 20
	}
	a := &api{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/streams/{stream}/events", a.ingest)
	mux.HandleFunc("POST /v1/query", a.query)
	mux.HandleFunc("GET /v1/query", a.query)
	mux.HandleFunc("GET /v1/quarantine", a.quarantine)
	mux.HandleFunc("POST /v1/quarantine/replay", a.replay)
	mux.HandleFunc("GET /v1/status", a.status)
	mux.HandleFunc("GET /v1/live", a.live)
	mux.HandleFunc("GET /v1", a.index)
	mux.HandleFunc("GET /v1/streams", a.streams)
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", a.readyz)
	if o.UI != nil {
		mux.Handle("GET /{$}", o.UI)
		mux.Handle("GET /ui/", o.UI)
	} else {
		mux.HandleFunc("GET /{$}", a.index)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route %s %s", r.Method, r.URL.Path),
			"see GET /v1 for the list of endpoints")
	})
	return mux
}

type api struct{ o Options }

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Hint    string `json:"hint,omitempty"`
	} `json:"error"`
}

func (a *api) fail(w http.ResponseWriter, status int, code, msg, hint string) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Error.Hint = code, msg, hint
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Never a 200 with an empty body: say what could not be encoded.
		buf.Reset()
		status = http.StatusInternalServerError
		json.NewEncoder(&buf).Encode(map[string]any{"error": map[string]string{
			"code": "unencodable_result", "message": "the answer cannot be written as JSON: " + err.Error()}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (a *api) count(route string, code int) {
	if a.o.Requests != nil {
		a.o.Requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	}
}

func (a *api) ingest(w http.ResponseWriter, r *http.Request) {
	stream := r.PathValue("stream")
	code := a.doIngest(w, r, stream)
	a.count("ingest", code)
}

// bodyBuffers holds request body buffers of up to maxPooledBody bytes for
// reuse: at full load a node reads thousands of bodies a second.
var bodyBuffers sync.Pool

const maxPooledBody = 8 << 20

// mediaType is the lower-cased media type of a Content-Type header, as
// mime.ParseMediaType gives it, without parsing parameters when there are
// none (the common case, and the parse's cost on every request).
func mediaType(ct string) string {
	if !strings.Contains(ct, ";") {
		return strings.ToLower(strings.TrimSpace(ct))
	}
	mt, _, _ := mime.ParseMediaType(ct)
	return mt
}

func (a *api) doIngest(w http.ResponseWriter, r *http.Request, stream string) int {
	var format gate.Format
	switch mediaType(r.Header.Get("Content-Type")) {
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
		format = gate.NDJSON
	case "application/json":
		format = gate.JSON
	default:
		got := r.Header.Get("Content-Type")
		if got == "" {
			got = "none"
		}
		a.fail(w, http.StatusUnsupportedMediaType, "unsupported_content_type",
			fmt.Sprintf("Content-Type %s is not supported", got),
			"send one event per line with Content-Type: application/x-ndjson, or a JSON object or array with Content-Type: application/json")
		return http.StatusUnsupportedMediaType
	}
	body := io.Reader(http.MaxBytesReader(w, r.Body, a.o.MaxBodyBytes))
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			a.fail(w, http.StatusBadRequest, "bad_encoding", "the body is not valid gzip: "+err.Error(), "")
			return http.StatusBadRequest
		}
		body = io.LimitReader(zr, a.o.MaxBodyBytes+1)
	default:
		a.fail(w, http.StatusUnsupportedMediaType, "unsupported_encoding", fmt.Sprintf("Content-Encoding %q is not supported", enc), "send the body as is or gzip-compressed")
		return http.StatusUnsupportedMediaType
	}
	// Read into a buffer sized from Content-Length (io.ReadAll would grow
	// from 512 bytes, copying a large batch many times), taken from a pool:
	// the gate keeps nothing of the body once Ingest returns.
	buf, _ := bodyBuffers.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBody {
			bodyBuffers.Put(buf)
		}
	}()
	if n := r.ContentLength; n > 0 && n <= a.o.MaxBodyBytes && r.Header.Get("Content-Encoding") == "" {
		buf.Grow(int(n) + bytes.MinRead) // ReadFrom wants MinRead free to see EOF
	}
	_, err := buf.ReadFrom(body)
	data := buf.Bytes()
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || int64(len(data)) > a.o.MaxBodyBytes {
		a.fail(w, http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("the body is over the %d-byte limit", a.o.MaxBodyBytes), "split the events over several requests")
		return http.StatusRequestEntityTooLarge
	}
	if err != nil {
		a.fail(w, http.StatusBadRequest, "bad_body", "cannot read the body: "+err.Error(), "")
		return http.StatusBadRequest
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 256 {
		a.fail(w, http.StatusBadRequest, "bad_idempotency_key", "Idempotency-Key is longer than 256 bytes", "use a UUID")
		return http.StatusBadRequest
	}
	res, err := a.o.Gate.Ingest(r.Context(), gate.Request{Stream: stream, Format: format, Body: data, IdempotencyKey: key, Source: "http"})
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
		return http.StatusOK
	case errors.Is(err, gate.ErrUnknownStream):
		a.fail(w, http.StatusNotFound, "unknown_stream", fmt.Sprintf("stream %q is not declared", stream),
			"streams are declared in weir.yaml; GET /v1/streams lists them")
		return http.StatusNotFound
	case errors.Is(err, gate.ErrIdempotencyMismatch):
		a.fail(w, http.StatusUnprocessableEntity, "idempotency_key_reused",
			"this Idempotency-Key was already used with a different body", "use a new key for a new request; retry a request only with its original body")
		return http.StatusUnprocessableEntity
	case errors.Is(err, gate.ErrOverloaded):
		w.Header().Set("Retry-After", "1")
		a.fail(w, http.StatusTooManyRequests, "overloaded", "ingest is at its memory limit: "+err.Error(), "retry after the Retry-After delay with the same Idempotency-Key")
		return http.StatusTooManyRequests
	case errors.Is(err, gate.ErrBacklog):
		w.Header().Set("Retry-After", "1")
		a.fail(w, http.StatusTooManyRequests, "backlogged",
			fmt.Sprintf("stream %q has more records waiting for its views and sinks than its max_backlog allows", stream),
			"retry after the Retry-After delay with the same Idempotency-Key; nothing of this request was stored (SHOW VIEWS lists each view's lag; weir_stream_backlog_records and weir_view_lag_records are in /metrics)")
		return http.StatusTooManyRequests
	case r.Context().Err() != nil:
		return 499 // the client went away; nothing to answer
	default:
		a.o.Logger.Error("ingest failed", "stream", stream, "err", err)
		w.Header().Set("Retry-After", "5")
		a.fail(w, http.StatusServiceUnavailable, "unavailable", "the event log cannot accept writes: "+err.Error(),
			"retry later with the same Idempotency-Key; nothing of this request was stored")
		return http.StatusServiceUnavailable
	}
}

func (a *api) query(w http.ResponseWriter, r *http.Request) {
	var q string
	if r.Method == http.MethodGet {
		q = r.URL.Query().Get("sql")
	} else {
		var req struct {
			SQL string `json:"sql"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		if err := dec.Decode(&req); err != nil {
			a.fail(w, http.StatusBadRequest, "bad_request", "the body must be JSON like {\"sql\": \"SELECT ...\"}: "+err.Error(), "")
			a.count("query", 400)
			return
		}
		q = req.SQL
	}
	res, err := a.o.Query(r.Context(), q)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
		a.count("query", 200)
	case errors.Is(err, serve.ErrTimeout):
		a.fail(w, http.StatusServiceUnavailable, "query_timeout", err.Error()+
			"; narrow it (a time range, fewer columns) or query a view that keeps the answer", "")
		a.count("query", 503)
	case errors.Is(err, serve.ErrBusy):
		w.Header().Set("Retry-After", "1")
		a.fail(w, http.StatusServiceUnavailable, "busy", err.Error(), "")
		a.count("query", 503)
	case errors.Is(err, serve.ErrCanceled) && r.Context().Err() != nil:
		a.count("query", 499) // the client went away
	case errors.Is(err, serve.ErrBadQuery):
		a.fail(w, http.StatusBadRequest, "bad_query", strings.TrimPrefix(err.Error(), serve.ErrBadQuery.Error()+": "), "")
		a.count("query", 400)
	default:
		a.o.Logger.Error("query failed", "err", err)
		a.fail(w, http.StatusInternalServerError, "query_failed", err.Error(), "")
		a.count("query", 500)
	}
}

// QuarantineEntry is a quarantined record as the API lists it: raw is the
// original bytes as text, or base64 when they are not valid UTF-8; offset is
// what POST /v1/quarantine/replay takes.
type QuarantineEntry struct {
	gate.QuarantineRecord
	Offset      int64  `json:"offset"`
	Raw         string `json:"raw"`
	RawEncoding string `json:"raw_encoding,omitempty"`
}

func (a *api) quarantine(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			a.fail(w, http.StatusBadRequest, "bad_limit", "limit must be an integer from 1 to 10000", "")
			return
		}
		limit = n
	}
	streams := a.o.Gate.Streams()
	if s := r.URL.Query().Get("stream"); s != "" {
		streams = []string{s}
	}
	out := []QuarantineEntry{}
	for _, s := range streams {
		recs, err := a.o.Gate.ListQuarantine(s, limit)
		if errors.Is(err, gate.ErrUnknownStream) {
			a.fail(w, http.StatusNotFound, "unknown_stream", fmt.Sprintf("stream %q is not declared", s), "GET /v1/streams lists the streams")
			return
		}
		if err != nil {
			a.fail(w, http.StatusInternalServerError, "quarantine_failed", err.Error(), "")
			return
		}
		for _, q := range recs {
			out = append(out, ToEntry(q))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out})
}

// ToEntry renders a quarantine record for the API.
func ToEntry(q gate.QuarantineRecord) QuarantineEntry {
	e := QuarantineEntry{QuarantineRecord: q, Offset: q.Offset}
	if utf8.Valid(q.Raw) {
		e.Raw = string(q.Raw)
	} else {
		e.Raw = base64.StdEncoding.EncodeToString(q.Raw)
		e.RawEncoding = "base64"
	}
	return e
}

func (a *api) streams(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"streams": a.o.Gate.Streams()})
}

func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	if a.o.Ready != nil && !a.o.Ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (a *api) index(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"name": "weir",
		"time": time.Now().UTC().Format(time.RFC3339),
		"endpoints": []string{
			"POST /v1/streams/{stream}/events  (NDJSON or JSON; Idempotency-Key header)",
			"POST /v1/query  {\"sql\": \"SELECT ...\"}",
			"GET  /v1/quarantine?stream=S&limit=N",
			"POST /v1/quarantine/replay  {\"stream\": \"S\", \"offsets\": [N, ...]} or {\"stream\": \"S\", \"all\": true}",
			"GET  /v1/status  (the pipeline with its counters)",
			"GET  /v1/live?q=SQL&interval=1s  (server-sent events: status, and live query results)",
			"GET  /v1/streams",
			"GET  /  (the dashboard)",
			"GET  /metrics", "GET  /healthz", "GET  /readyz",
		},
	})
}
