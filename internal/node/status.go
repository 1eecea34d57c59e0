package node

import (
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/weirhq/weir/internal/api"
)

// Status is the node at a glance: its pipeline with the counters the
// metrics hold and the positions the log holds (GET /v1/status, the
// dashboard's live feed).
func (n *Node) Status() api.Status {
	mv := gatherValues(n.metrics.Registry)
	st := api.Status{Time: time.Now().UTC(), Started: n.started.UTC(), Ready: n.ready.Load(),
		Sources: []api.SourceStatus{}, Streams: []api.StreamStatus{}, Sinks: []api.SinkStatus{}, Tables: n.Tables()}
	for _, s := range n.cfg.Pipeline.Sources {
		ss := api.SourceStatus{Name: s.Name, Type: s.Type, Stream: s.Stream,
			Retries: int64(mv.get("weir_connector_retries_total", s.Name)),
			Lost:    int64(mv.get("weir_source_records_lost_total", s.Name))}
		if v, ok := mv.lookup("weir_source_lag_records", s.Name); ok {
			lag := int64(v)
			ss.Lag = &lag
		}
		for _, outcome := range []string{"accepted", "rejected", "duplicate"} {
			if v, ok := mv.lookup("weir_source_files_total", outcome, s.Name); ok {
				if ss.Files == nil {
					ss.Files = map[string]int64{}
				}
				ss.Files[outcome] = int64(v)
			}
		}
		st.Sources = append(st.Sources, ss)
	}
	for _, s := range n.cfg.Pipeline.Streams {
		ss := api.StreamStatus{Name: s.Name, Partitions: s.Partitions,
			Received:    int64(mv.get("weir_records_received_total", s.Name)),
			Accepted:    int64(mv.get("weir_records_accepted_total", s.Name)),
			Quarantined: int64(mv.get("weir_records_quarantined_total", s.Name)),
			Replayed:    int64(mv.get("weir_quarantine_replayed_total", s.Name)),
			Bytes:       int64(mv.get("weir_ingest_bytes_total", s.Name)),
			BySource:    map[string]int64{},
			Backlog:     n.backlog(s.Name, s.Partitions),
		}
		for k, v := range mv.with("weir_records_by_source_total", s.Name) {
			ss.BySource[k] = int64(v)
		}
		for p := range s.Partitions {
			start, err1 := n.log.Start(s.Name, p)
			end, err2 := n.log.End(s.Name, p)
			if err1 != nil || err2 != nil {
				continue
			}
			ss.Records += end - start
			if end > start {
				if b, err := n.log.Read(s.Name, p, end-1, 1); err == nil && len(b) > 0 {
					if t := time.UnixMilli(b[len(b)-1].AppendTime).UTC(); t.After(ss.LastAppend) {
						ss.LastAppend = t
					}
				}
			}
		}
		st.Streams = append(st.Streams, ss)
	}
	st.Views = n.views.Status()
	for _, sw := range n.writers {
		state := sw.w.State()
		sk := api.SinkStatus{Name: sw.name, Type: "lake", Table: state.Table, Records: state.Rows,
			Files: len(state.Files), LastCommit: state.Committed.UTC()}
		if sw.view {
			sk.View = sw.viewName
		} else {
			sk.Stream = sw.stream
		}
		sk.Lag = n.lagFrom(sw.stream, state.Offsets)
		st.Sinks = append(st.Sinks, sk)
	}
	for _, cs := range n.sinks {
		sk := api.SinkStatus{Name: cs.name, Type: n.sinkType(cs.name), Stream: cs.stream, View: cs.view,
			Records: int64(mv.get("weir_sink_records_total", cs.name))}
		if cs.view != "" {
			sk.Stream = ""
		}
		sk.Lag = n.lagFrom(cs.stream, cs.sink.Committed())
		st.Sinks = append(st.Sinks, sk)
	}
	sort.Slice(st.Sinks, func(i, j int) bool { return st.Sinks[i].Name < st.Sinks[j].Name })
	return st
}

func (n *Node) sinkType(name string) string {
	for _, sk := range n.cfg.Pipeline.Sinks {
		if sk.Name == name {
			return sk.Type
		}
	}
	return ""
}

// lagFrom is how many records of stream lie past offsets (nil: from the
// log's start).
func (n *Node) lagFrom(stream string, offsets []int64) int64 {
	var lag int64
	for p := 0; ; p++ {
		end, err := n.log.End(stream, p)
		if err != nil {
			break
		}
		var off int64
		if p < len(offsets) {
			off = offsets[p]
		} else if offsets == nil {
			off, _ = n.log.Start(stream, p)
		}
		lag += max(end-off, 0)
	}
	return lag
}

// metricValues holds gathered counter and gauge values by name and label
// values (in label-name order).
type metricValues map[string]map[string]float64

func gatherValues(g interface {
	Gather() ([]*dto.MetricFamily, error)
}) metricValues {
	out := metricValues{}
	fams, _ := g.Gather() // a partial answer is still worth showing
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "weir_") {
			continue
		}
		m := map[string]float64{}
		for _, x := range f.Metric {
			var vals []string
			for _, l := range x.Label {
				vals = append(vals, l.GetValue())
			}
			var v float64
			switch {
			case x.Counter != nil:
				v = x.Counter.GetValue()
			case x.Gauge != nil:
				v = x.Gauge.GetValue()
			default:
				continue
			}
			m[strings.Join(vals, "\x00")] = v
		}
		out[f.GetName()] = m
	}
	return out
}

func (mv metricValues) lookup(name string, labels ...string) (float64, bool) {
	v, ok := mv[name][strings.Join(labels, "\x00")]
	return v, ok
}

func (mv metricValues) get(name string, labels ...string) float64 {
	v, _ := mv.lookup(name, labels...)
	return v
}

// with returns the values of a two-label metric whose second label (in
// label-name order) is last, keyed by the first.
func (mv metricValues) with(name, last string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range mv[name] {
		if first, l, ok := strings.Cut(k, "\x00"); ok && l == last {
			out[first] = v
		}
	}
	return out
}
