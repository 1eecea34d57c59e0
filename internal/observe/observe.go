// Package observe builds the node's Prometheus metrics (prefix weir_) and
// its structured logger. It owns metric names; the packages that update the
// metrics receive them as plain structs and never register anything.
package observe

import (
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/lake"
	"github.com/weirhq/weir/internal/log/pebblelog"
	"github.com/weirhq/weir/internal/serve"
	"github.com/weirhq/weir/internal/stream"
	"github.com/weirhq/weir/internal/table"
)

// Metrics holds every metric of a node.
type Metrics struct {
	Registry *prometheus.Registry
	Gate     *gate.Metrics
	Log      *pebblelog.Metrics
	Lake     *lake.Metrics
	Serve    *serve.Metrics
	Stream   *stream.Metrics
	Backlog  *prometheus.GaugeVec
	Requests *prometheus.CounterVec
	Sources  *connect.Metrics
	Tables   *table.Metrics
}

// NewMetrics creates and registers the node's metrics.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) prometheus.Collector { r.MustRegister(c); return c }
	byStream := []string{"stream"}
	tbl := []string{"table"}
	lat := prometheus.ExponentialBuckets(0.0005, 2, 16) // 0.5 ms .. 16 s
	m := &Metrics{Registry: r}
	m.Gate = &gate.Metrics{
		Received:    f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_records_received_total", Help: "Records received by the gate; always accepted + quarantined."}, byStream)).(*prometheus.CounterVec),
		Accepted:    f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_records_accepted_total", Help: "Records that passed validation and are durable in the log."}, byStream)).(*prometheus.CounterVec),
		Quarantined: f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_records_quarantined_total", Help: "Records that failed validation and are durable in the quarantine."}, byStream)).(*prometheus.CounterVec),
		Bytes:       f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_ingest_bytes_total", Help: "Request body bytes ingested."}, byStream)).(*prometheus.CounterVec),
		BySource:    f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_records_by_source_total", Help: "Records received by the gate, by stream and source type (http, kafka, inbox, ...)."}, []string{"stream", "source"})).(*prometheus.CounterVec),
		Replayed:    f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_quarantine_replayed_total", Help: "Quarantined records a replay accepted into their stream (not counted again as received or accepted)."}, byStream)).(*prometheus.CounterVec),
	}
	m.Log = &pebblelog.Metrics{
		AppendSeconds: f(prometheus.NewHistogram(prometheus.HistogramOpts{Name: "weir_log_append_seconds", Help: "Time to make one group of writes durable (one fsync).", Buckets: lat})).(prometheus.Histogram),
		AppendBytes:   f(prometheus.NewCounter(prometheus.CounterOpts{Name: "weir_log_append_bytes_total", Help: "Bytes appended to the log."})).(prometheus.Counter),
		GroupSize:     f(prometheus.NewHistogram(prometheus.HistogramOpts{Name: "weir_log_group_writes", Help: "Writes committed together in one group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 12)})).(prometheus.Histogram),
	}
	m.Lake = &lake.Metrics{
		RowsCommitted:  f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_lake_rows_committed_total", Help: "Rows committed to lake tables."}, tbl)).(*prometheus.CounterVec),
		FilesCommitted: f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_lake_files_committed_total", Help: "Parquet files committed to lake tables."}, tbl)).(*prometheus.CounterVec),
		BytesCommitted: f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_lake_bytes_committed_total", Help: "Parquet bytes committed to lake tables."}, tbl)).(*prometheus.CounterVec),
		CommitSeconds:  f(prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "weir_lake_commit_seconds", Help: "Time to write and commit one lake snapshot.", Buckets: lat}, tbl)).(*prometheus.HistogramVec),
		LagRecords:     f(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_lake_lag_records", Help: "Records in the log not yet committed to the lake table."}, tbl)).(*prometheus.GaugeVec),
		FilesCompacted: f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_lake_files_compacted_total", Help: "Small data files merged away by compaction (their rows are in larger, time-sorted files)."}, tbl)).(*prometheus.CounterVec),
	}
	m.Serve = &serve.Metrics{
		QuerySeconds: f(prometheus.NewHistogram(prometheus.HistogramOpts{Name: "weir_query_seconds", Help: "Query latency.", Buckets: lat})).(prometheus.Histogram),
		QueryErrors:  f(prometheus.NewCounter(prometheus.CounterOpts{Name: "weir_query_errors_total", Help: "Queries that failed."})).(prometheus.Counter),
		TailRows:     f(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_query_tail_rows", Help: "Fresh rows held in memory for queries, not yet in lake files."}, tbl)).(*prometheus.GaugeVec),
		CacheHits:    f(prometheus.NewCounter(prometheus.CounterOpts{Name: "weir_query_cache_hits_total", Help: "Queries answered from the result cache (same statement, same lake snapshot and log tail)."})).(prometheus.Counter),
		CacheMisses:  f(prometheus.NewCounter(prometheus.CounterOpts{Name: "weir_query_cache_misses_total", Help: "Cacheable queries the engine had to run."})).(prometheus.Counter),
		PointReads:   f(prometheus.NewCounter(prometheus.CounterOpts{Name: "weir_query_point_reads_total", Help: "Queries of an upsert view by key equality answered from its in-memory index, without DuckDB."})).(prometheus.Counter),
		Busy:         f(prometheus.NewCounter(prometheus.CounterOpts{Name: "weir_query_busy_total", Help: "Queries refused because the engine's running and waiting slots were full."})).(prometheus.Counter),
	}
	m.Sources = connect.NewMetrics(r)
	m.Tables = table.NewMetrics(r)
	m.Backlog = f(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_stream_backlog_records", Help: "Records of a stream not yet committed by its slowest view or sink, summed over partitions; past max_backlog ingest answers 429."}, byStream)).(*prometheus.GaugeVec)
	view := []string{"view"}
	m.Stream = &stream.Metrics{
		RowsIn:      f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_view_input_records_total", Help: "Input records a view has processed (committed)."}, view)).(*prometheus.CounterVec),
		RowsOut:     f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_view_output_rows_total", Help: "Rows (and upserts) a view has written."}, view)).(*prometheus.CounterVec),
		Late:        f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_view_late_records_total", Help: "Records that arrived after their window fired, by what the late-data policy did (each record counted once)."}, []string{"view", "outcome"})).(*prometheus.CounterVec),
		StateGroups: f(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_view_state_groups", Help: "Open groups (window x key) in a view's state."}, view)).(*prometheus.GaugeVec),
		StateBytes:  f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_view_state_written_bytes_total", Help: "Bytes of state entries a view's commits have written."}, view)).(*prometheus.CounterVec),
		Watermark:   f(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_view_watermark_seconds", Help: "A view's event-time watermark, Unix seconds."}, view)).(*prometheus.GaugeVec),
		Lag:         f(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_view_lag_records", Help: "Input records not yet processed by a view."}, view)).(*prometheus.GaugeVec),
	}
	m.Requests = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_http_requests_total", Help: "HTTP API requests by route and status code."}, []string{"route", "code"})).(*prometheus.CounterVec)
	return m
}

// NewLogger returns the node's JSON logger.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
