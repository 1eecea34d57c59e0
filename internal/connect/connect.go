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
	// Retries counts transient failures a source retried, by source.
	Retries *prometheus.CounterVec
}

// NewMetrics makes the sources' metrics and registers them with r.
func NewMetrics(r prometheus.Registerer) *Metrics {
	m := &Metrics{
		Files: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_source_files_total",
			Help: "Files a file source finished, by outcome: accepted (its rows ingested), rejected (moved to rejected/, a quarantine record says why), duplicate (content ingested before)."}, []string{"source", "outcome"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_source_retries_total",
			Help: "Transient failures a source retried with backoff (a read error, the peer away, the stream backlogged)."}, []string{"source"}),
	}
	r.MustRegister(m.Files, m.Retries)
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
