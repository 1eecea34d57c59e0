package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/serve"
	"github.com/weirhq/weir/internal/table"
	"github.com/weirhq/weir/internal/view"
)

// Status is the node at a glance: the pipeline graph with its counters, as
// GET /v1/status answers and the dashboard's live feed pushes. Counters are
// totals since the node started (rates are differences of two statuses);
// positions and lags are read from the log.
type Status struct {
	Time    time.Time      `json:"time"`
	Started time.Time      `json:"started"`
	Ready   bool           `json:"ready"`
	Sources []SourceStatus `json:"sources"`
	Streams []StreamStatus `json:"streams"`
	Views   []view.Status  `json:"views"`
	Sinks   []SinkStatus   `json:"sinks"`
	Tables  []table.Status `json:"tables"` // reference tables
}

// SourceStatus is a configured source. HTTP ingest is always there and is
// not listed; its records are a stream's BySource["http"].
type SourceStatus struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Stream string `json:"stream"`
	// Lag: records the peer holds past what is durable in Weir (Kafka);
	// absent when the source does not know.
	Lag     *int64           `json:"lag,omitempty"`
	Retries int64            `json:"retries"`
	Lost    int64            `json:"lost"`
	Files   map[string]int64 `json:"files,omitempty"` // file sources: files by outcome
}

// StreamStatus is a stream: what the gate counted and where its log is.
type StreamStatus struct {
	Name        string `json:"name"`
	Partitions  int    `json:"partitions"`
	Received    int64  `json:"received"` // = accepted + quarantined
	Accepted    int64  `json:"accepted"`
	Quarantined int64  `json:"quarantined"`
	Replayed    int64  `json:"replayed"` // quarantined records a replay accepted
	// BySource: records received by source type ("http", "kafka", ...).
	BySource map[string]int64 `json:"by_source"`
	Bytes    int64            `json:"bytes"`
	Records  int64            `json:"records"` // records in the log now (after retention)
	Backlog  int64            `json:"backlog"` // records the slowest view or sink has still to commit
	// LastAppend is when the newest record was appended: how fresh the
	// stream is.
	LastAppend time.Time `json:"last_append,omitzero"`
}

// SinkStatus is a sink: a lake table or a connector.
type SinkStatus struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Stream string `json:"stream,omitempty"`
	View   string `json:"view,omitempty"`
	Table  string `json:"table,omitempty"`
	// Records committed to the peer (lake: rows in the table).
	Records    int64     `json:"records"`
	Lag        int64     `json:"lag"`             // records of its input not yet committed
	Files      int       `json:"files,omitempty"` // lake: data files in the table
	LastCommit time.Time `json:"last_commit,omitzero"`
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	if a.o.Status == nil {
		a.fail(w, http.StatusNotFound, "no_status", "this server has no status", "")
		return
	}
	writeJSON(w, http.StatusOK, a.o.Status())
}

// maxLiveRows bounds the rows of one live query result.
const maxLiveRows = 5000

// liveResult is one live query's answer, pushed as an SSE "result" event.
type liveResult struct {
	Index     int           `json:"index"` // which q parameter
	Result    *serve.Result `json:"result,omitempty"`
	Truncated bool          `json:"truncated,omitempty"`
	Error     string        `json:"error,omitempty"`
	Millis    float64       `json:"ms"`
}

// live is GET /v1/live: server-sent events, every interval (default 1 s),
// of the node's status (event "status", unless status=0) and of each query
// q=... (event "result"). Queries must be read-only: SELECT, WITH, SHOW,
// VALUES, DESCRIBE or EXPLAIN.
func (a *api) live(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	interval := time.Second
	if s := qs.Get("interval"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 200*time.Millisecond || d > time.Minute {
			a.fail(w, http.StatusBadRequest, "bad_interval", fmt.Sprintf("interval %q is not a duration from 200ms to 1m", s), "e.g. interval=1s")
			return
		}
		interval = d
	}
	queries := qs["q"]
	if len(queries) > 16 {
		a.fail(w, http.StatusBadRequest, "too_many_queries", fmt.Sprintf("%d live queries on one connection, at most 16", len(queries)), "")
		return
	}
	for i, q := range queries {
		if !readOnly(q) {
			a.fail(w, http.StatusBadRequest, "not_read_only", fmt.Sprintf("live query %d is not a SELECT: %.60q", i, q),
				"a live query runs every interval, so it must only read: SELECT, WITH, SHOW, VALUES, DESCRIBE or EXPLAIN")
			return
		}
	}
	withStatus := qs.Get("status") != "0" && a.o.Status != nil
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	a.count("live", 200)
	send := func(event string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			b, _ = json.Marshal(map[string]string{"error": "cannot encode: " + err.Error()})
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if _, err := fmt.Fprintf(w, "retry: 2000\n\n"); err != nil {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if withStatus {
			if send("status", a.o.Status()) != nil {
				return
			}
		}
		for i, q := range queries {
			if send("result", a.runLive(r.Context(), i, q, interval)) != nil {
				return
			}
		}
		if len(queries) == 0 && !withStatus {
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

func (a *api) runLive(ctx context.Context, i int, q string, interval time.Duration) liveResult {
	ctx, cancel := context.WithTimeout(ctx, max(interval*5, 5*time.Second))
	defer cancel()
	t0 := time.Now()
	res, err := a.o.Query(ctx, q)
	out := liveResult{Index: i, Millis: float64(time.Since(t0).Microseconds()) / 1000}
	if err != nil {
		out.Error = strings.TrimPrefix(err.Error(), serve.ErrBadQuery.Error()+": ")
		return out
	}
	if len(res.Rows) > maxLiveRows {
		res.Rows, out.Truncated = res.Rows[:maxLiveRows], true
	}
	out.Result = res
	return out
}

// readOnly reports whether q starts with a keyword of a statement that only
// reads, after white space and comments.
func readOnly(q string) bool {
	for {
		q = strings.TrimLeft(q, " \t\r\n(")
		switch {
		case strings.HasPrefix(q, "--"):
			i := strings.IndexByte(q, '\n')
			if i < 0 {
				return false
			}
			q = q[i+1:]
			continue
		case strings.HasPrefix(q, "/*"):
			i := strings.Index(q, "*/")
			if i < 0 {
				return false
			}
			q = q[i+2:]
			continue
		}
		break
	}
	word := q
	if i := strings.IndexAny(q, " \t\r\n(;"); i >= 0 {
		word = q[:i]
	}
	switch strings.ToUpper(word) {
	case "SELECT", "WITH", "SHOW", "VALUES", "DESCRIBE", "EXPLAIN", "FROM":
		return true
	}
	return false
}

// replay is POST /v1/quarantine/replay {"stream": "clicks", "offsets": [..]}
// or {"stream": "clicks", "all": true}.
func (a *api) replay(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Stream  string  `json:"stream"`
		Offsets []int64 `json:"offsets"`
		All     bool    `json:"all"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		a.fail(w, http.StatusBadRequest, "bad_request", "the body must be JSON like {\"stream\": \"clicks\", \"offsets\": [3, 4]} or {\"stream\": \"clicks\", \"all\": true}: "+err.Error(), "")
		a.count("replay", 400)
		return
	}
	if req.Stream == "" || (req.All == (len(req.Offsets) > 0)) {
		a.fail(w, http.StatusBadRequest, "bad_request", "name a stream and either offsets or \"all\": true",
			"the offsets are those GET /v1/quarantine lists")
		a.count("replay", 400)
		return
	}
	offsets := req.Offsets
	if req.All {
		offsets = nil
	}
	res, err := a.o.Gate.Replay(r.Context(), req.Stream, offsets)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
		a.count("replay", 200)
	case errors.Is(err, gate.ErrUnknownStream):
		a.fail(w, http.StatusNotFound, "unknown_stream", fmt.Sprintf("stream %q is not declared", req.Stream), "GET /v1/streams lists the streams")
		a.count("replay", 404)
	case errors.Is(err, gate.ErrBadReplay):
		a.fail(w, http.StatusBadRequest, "bad_request", err.Error(), "replay fewer offsets at a time")
		a.count("replay", 400)
	case errors.Is(err, gate.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		a.fail(w, http.StatusServiceUnavailable, "unavailable", err.Error(), "retry later; nothing of this replay was stored")
		a.count("replay", 503)
	default:
		a.o.Logger.Error("replay failed", "err", err)
		a.fail(w, http.StatusInternalServerError, "replay_failed", err.Error(), "")
		a.count("replay", 500)
	}
}
