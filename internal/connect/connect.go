// Package connect is the API connectors build on: a source is constructed
// from its checked settings (spec.Values) and an Env, and runs until its
// context ends, feeding the gate. Each connector lives in its own package
// under internal/connect/ and registers itself with Register from an init
// function; internal/connect/all imports them all.
//
// Exactly-once into Weir: a source that reads from a replayable peer
// (Kafka offsets, a replication LSN) passes its new position as
// gate.Request.Puts, so the records and the position become durable in one
// log batch; on restart it resumes from the position it stored (Env.Meta).
//
// This package must not import the node, the lake or the query engine.
package connect

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/gate"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/schema"
)

// Ingester takes records into a stream: the gate.
type Ingester interface {
	Ingest(ctx context.Context, req gate.Request) (gate.Result, error)
}

// Env is what a source gets from the node.
type Env struct {
	Name   string // the source's name in weir.yaml
	Stream string // the stream it feeds
	Gate   Ingester
	Meta   wlog.Meta // where it keeps its position, under PositionPrefix(Name)
	Logger *slog.Logger
	// Dir is the pipeline directory: relative paths in settings are
	// relative to it.
	Dir string
	// Schema is the stream's current schema (a file source checks a CSV
	// header against it).
	Schema *schema.Schema
	Key    []int // the stream's key columns
	// Ends returns the stream's log end offset of each partition: where
	// the next records will go. A snapshot feed brackets each snapshot
	// with it.
	Ends    func() ([]int64, error)
	Metrics *Metrics // nil: none
}

// Snapshot is the current snapshot of a snapshot feed (a file source that
// replaces its stream's table whole with every accepted file): the
// stream's log records in [Start, End) of each partition. The source
// stores it under SnapshotKey; the node serves the table from it and keeps
// the log from Start on.
type Snapshot struct {
	File     string  `json:"file"`               // its name under done/
	Previous string  `json:"previous,omitempty"` // the snapshot it replaced, under done/
	SHA256   string  `json:"sha256"`
	Rows     int64   `json:"rows"`
	Start    []int64 `json:"start"`
	End      []int64 `json:"end"`
	At       string  `json:"at"`
}

// SnapshotKey is the metadata key of a snapshot feed's current snapshot.
func SnapshotKey(source string) []byte { return []byte(PositionPrefix(source) + "snapshot") }

// Metrics are the sources' Prometheus metrics.
type Metrics struct {
	// Files counts the files a file source finished, by source and
	// outcome: accepted, rejected, duplicate.
	Files *prometheus.CounterVec
	// Retries counts transient failures a connector retried, by name.
	Retries *prometheus.CounterVec
	// SinkRecords counts the records a sink has committed to its peer.
	SinkRecords *prometheus.CounterVec
	// Lost counts records a source's peer deleted before the source read
	// them (Kafka retention), by source.
	Lost *prometheus.CounterVec
	// Lag is how many records a source's peer holds past what is durable
	// in Weir (Kafka: high watermarks minus the stored offsets), by source.
	Lag *prometheus.GaugeVec
}

// NewMetrics makes the sources' metrics and registers them with r.
func NewMetrics(r prometheus.Registerer) *Metrics {
	m := &Metrics{
		Files: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_source_files_total",
			Help: "Files a file source finished, by outcome: accepted (its rows ingested), rejected (moved to rejected/, a quarantine record says why), duplicate (content ingested before)."}, []string{"source", "outcome"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_connector_retries_total",
			Help: "Transient failures a source or sink retried with backoff (a read error, the peer away, the stream backlogged)."}, []string{"connector"}),
		SinkRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_sink_records_total",
			Help: "Records a connector sink has committed to its peer (Kafka: in committed transactions)."}, []string{"sink"}),
	}
	m.Lost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_source_records_lost_total",
		Help: "Records a source's peer deleted before the source read them (Kafka topic retention): lost upstream of Weir; alert on any."}, []string{"source"})
	m.Lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_source_lag_records",
		Help: "Records a source's peer holds that are not yet durable in Weir (Kafka: high watermark minus Weir's offset, summed over partitions)."}, []string{"source"})
	r.MustRegister(m.Files, m.Retries, m.SinkRecords, m.Lost, m.Lag)
	return m
}

// PositionPrefix is the metadata key prefix of a source's stored position.
func PositionPrefix(source string) string { return "src/" + source + "/" }

// Source is a running source.
type Source interface {
	// Run feeds the stream until ctx ends (then it returns nil) or it meets
	// an error it cannot retry. Transient failures of the peer or of the
	// gate (overload, backlog) are retried with backoff, never dropped.
	Run(ctx context.Context) error
}

// NewSource builds a source from its settings.
type NewSource func(v spec.Values, env Env) (Source, error)

var (
	mu      sync.Mutex
	sources = map[string]NewSource{}
)

// RegisterSource registers a source connector: its spec (for weir.yaml and
// the docs) and its constructor.
func RegisterSource(s *spec.Spec, fn NewSource) {
	s.Kind = "source"
	spec.Register(s)
	mu.Lock()
	sources[s.Type] = fn
	mu.Unlock()
}

// Open builds the source of type typ.
func Open(typ string, v spec.Values, env Env) (Source, error) {
	mu.Lock()
	fn, ok := sources[typ]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("BUG: no source connector %q is registered (import internal/connect/all)", typ)
	}
	return fn(v, env)
}

// SinkEnv is what a sink gets from the node.
type SinkEnv struct {
	Name       string // the sink's name in weir.yaml
	Stream     string // the stream it writes out (a view's: its output stream)
	View       string // the view it writes out, or "" for a stream of weir.yaml
	Partitions int
	// Log is where it reads the stream's records from (Read, End, Notify),
	// and where a sink that keeps its position in Weir appends it (a write
	// of Puts only).
	Log wlog.Log
	// Meta reads metadata back (such a sink's stored position).
	Meta wlog.Meta
	// SchemaFor returns the schema a batch was written with (Batch.Meta).
	SchemaFor func(version uint32) (*schema.Schema, error)
	Schema    *schema.Schema // the current one
	Key       []int          // the stream's key columns
	Logger    *slog.Logger
	Metrics   *Metrics // nil: none
}

// What names what the sink writes out, for messages: stream "x" or view "v".
func (e SinkEnv) What() string {
	if e.View != "" {
		return fmt.Sprintf("view %q", e.View)
	}
	return fmt.Sprintf("stream %q", e.Stream)
}

// Starts returns where the log starts in each partition of the sink's
// stream: where a sink with no stored position begins.
func (e SinkEnv) Starts() ([]int64, error) {
	pos := make([]int64, e.Partitions)
	for p := range pos {
		start, err := e.Log.Start(e.Stream, p)
		if err != nil {
			return nil, fmt.Errorf("%w: where stream %q starts: %v", ErrFatal, e.Stream, err)
		}
		pos[p] = start
	}
	return pos, nil
}

// Sink is a running sink.
type Sink interface {
	// Run writes the stream out until ctx ends (then it returns nil) or it
	// meets an error it cannot retry. A sink that promises exactly once
	// keeps its position with what it wrote, in the peer, atomically.
	Run(ctx context.Context) error
	// Committed returns, per partition, the offset below which every
	// record is safely in the peer (nil until Run has recovered it). The
	// log keeps the records from there on; the backlog counts from there.
	Committed() []int64
}

// NewSink builds a sink from its settings.
type NewSink func(v spec.Values, env SinkEnv) (Sink, error)

var sinks = map[string]NewSink{}

// RegisterSink registers a sink connector: its spec and its constructor.
func RegisterSink(s *spec.Spec, fn NewSink) {
	s.Kind = "sink"
	spec.Register(s)
	mu.Lock()
	sinks[s.Type] = fn
	mu.Unlock()
}

// OpenSink builds the sink of type typ.
func OpenSink(typ string, v spec.Values, env SinkEnv) (Sink, error) {
	mu.Lock()
	fn, ok := sinks[typ]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("BUG: no sink connector %q is registered (import internal/connect/all)", typ)
	}
	return fn(v, env)
}
