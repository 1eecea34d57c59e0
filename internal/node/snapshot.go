package node

import (
	"encoding/json"
	"fmt"

	"github.com/weirhq/weir/internal/config"
	"github.com/weirhq/weir/internal/connect"
	wlog "github.com/weirhq/weir/internal/log"
)

// snapshotFeeds finds the streams fed by a snapshot source (a file feed
// whose every file replaces the table) and checks that nothing else feeds
// them: their table is a range of the log, which other writers would break.
func snapshotFeeds(p *config.Pipeline) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range p.Sources {
		if s.Settings.Bool("snapshot") {
			out[s.Stream] = s.Name
		}
	}
	for _, s := range p.Sources {
		if src, ok := out[s.Stream]; ok && src != s.Name {
			return nil, fmt.Errorf("%s: sources.%s feeds stream %q, which source %s fills as a snapshot feed (snapshot: true): a snapshot stream takes one source; give %s its own stream",
				s.Pos, s.Name, s.Stream, src, s.Name)
		}
	}
	for _, sk := range p.Sinks {
		if _, ok := out[sk.Stream]; ok && sk.Type == "lake" && sk.Table == sk.Stream {
			return nil, fmt.Errorf("%s: sinks.%s: stream %q is a snapshot feed, whose table %q shows the current snapshot; name the lake table of its history differently (table: %s_history)",
				sk.Pos, sk.Name, sk.Stream, sk.Stream, sk.Stream)
		}
	}
	return out, nil
}

// snapshot reads a snapshot feed's current snapshot.
func (n *Node) snapshot(source string) (connect.Snapshot, bool) {
	var snap connect.Snapshot
	v, ok, err := n.log.Get(connect.SnapshotKey(source))
	if err != nil || !ok {
		return snap, false
	}
	if err := json.Unmarshal(v, &snap); err != nil {
		n.cfg.Logger.Error("unreadable snapshot record", "source", source, "err", err)
		return snap, false
	}
	return snap, true
}

// snapshotRange is the log range of a snapshot feed's current snapshot
// (nil before the first one).
func (n *Node) snapshotRange(source string) (start, end []int64) {
	snap, ok := n.snapshot(source)
	if !ok {
		return nil, nil
	}
	return snap.Start, snap.End
}

// ends returns a stream's log end offsets, for a source.
func (n *Node) ends(stream string) func() ([]int64, error) {
	return func() ([]int64, error) {
		s := n.cfg.Pipeline.Stream(stream)
		out := make([]int64, s.Partitions)
		for p := range out {
			e, err := n.log.End(stream, p)
			if err != nil {
				return nil, err
			}
			out[p] = e
		}
		return out, nil
	}
}

// retainSnapshot deletes a snapshot stream's records below its current
// snapshot that every lake sink and view has consumed: older snapshots are
// read by nothing else.
func (n *Node) retainSnapshot(s *config.Stream) {
	snap, ok := n.snapshot(n.snapshots[s.Name])
	if !ok || len(snap.Start) != s.Partitions {
		return
	}
	for p := range s.Partitions {
		floor := snap.Start[p]
		for _, offs := range n.sinkPositions(s.Name) {
			floor = min(floor, offs[p])
		}
		if vf, ok := n.views.Floor(s.Name, p); ok {
			floor = min(floor, vf)
		}
		if _, err := n.log.Retain(s.Name, p, floor, wlog.Retention{MaxAgeMillis: 1}); err != nil {
			n.cfg.Logger.Warn("log retention failed", "stream", s.Name, "partition", p, "err", err)
		}
	}
}
