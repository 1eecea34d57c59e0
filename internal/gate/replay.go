package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/schema"
)

// ReplayResult is the answer to a replay: every offset asked for is counted
// once, as accepted, rejected, already replayed or not found.
type ReplayResult struct {
	Accepted int           `json:"accepted"`
	Rejected []ReplayError `json:"rejected"`
	// AlreadyReplayed are offsets accepted by an earlier replay: a record
	// enters its stream once, however often it is replayed.
	AlreadyReplayed int `json:"already_replayed"`
	// NotFound are offsets the quarantine does not hold (never written, or
	// removed by retention).
	NotFound []int64 `json:"not_found,omitempty"`
}

// ReplayError says why a replayed record was refused again. The record stays
// in the quarantine as it was.
type ReplayError struct {
	Offset int64  `json:"offset"`
	Reason string `json:"reason"`
}

// maxReplay bounds the records one Replay call validates.
const maxReplay = 100000

func replayKey(stream string, off int64) []byte {
	return []byte("qreplay/" + stream + "/" + strconv.FormatInt(off, 10))
}

// Replay validates the quarantined records of stream at the given offsets
// again, against the stream's current schema (after a schema fix and a
// restart, records the old version refused may pass). Those that pass are
// appended to the stream, with a mark per record in the same atomic write,
// so a record is replayed into the stream at most once; those that fail stay
// quarantined and are not quarantined again. Nil offsets: every record of
// the quarantine not yet replayed, up to 100,000.
//
// Replayed records are not counted in weir_records_received_total or
// weir_records_accepted_total (they were received once, and counted as
// quarantined then) but in weir_quarantine_replayed_total.
func (g *Gate) Replay(ctx context.Context, stream string, offsets []int64) (ReplayResult, error) {
	st, ok := g.streams[stream]
	if !ok {
		return ReplayResult{}, fmt.Errorf("%w %q", ErrUnknownStream, stream)
	}
	g.replayMu.Lock() // two replays of the same record must not both see it unmarked
	defer g.replayMu.Unlock()

	qs := QuarantineStream(stream)
	start, err := g.log.Start(qs, 0)
	if err != nil {
		return ReplayResult{}, err
	}
	end, err := g.log.End(qs, 0)
	if err != nil {
		return ReplayResult{}, err
	}
	res := ReplayResult{Rejected: []ReplayError{}}
	all := offsets == nil
	if !all {
		offsets = slices.Clone(offsets)
		slices.Sort(offsets)
		offsets = slices.Compact(offsets)
		if len(offsets) > maxReplay {
			return ReplayResult{}, fmt.Errorf("%w: %d offsets in one replay, over the limit of %d", ErrBadReplay, len(offsets), maxReplay)
		}
		kept := offsets[:0]
		for _, off := range offsets {
			if off < start || off >= end {
				res.NotFound = append(res.NotFound, off)
			} else {
				kept = append(kept, off)
			}
		}
		offsets = kept
	}

	dec := schema.NewDecoder(st.Schema, st.KeyCols)
	parts := make([][]byte, st.Partitions)
	counts := make([]int, st.Partitions)
	var row []byte
	var puts []wlog.Put
	seen := 0
	one := func(off int64, stored []byte) error {
		if _, done, err := g.meta.Get(replayKey(stream, off)); err != nil {
			return err
		} else if done {
			res.AlreadyReplayed++
			return nil
		}
		var q QuarantineRecord
		if err := json.Unmarshal(stored, &q); err != nil {
			res.Rejected = append(res.Rejected, ReplayError{Offset: off, Reason: "unreadable quarantine entry: " + err.Error()})
			return nil
		}
		d, err := dec.Decode(row[:0], q.Raw)
		if err != nil {
			res.Rejected = append(res.Rejected, ReplayError{Offset: off, Reason: err.Error()})
			return nil
		}
		row = d.Row
		p := int(d.KeyHash % uint64(st.Partitions))
		parts[p] = wlog.AppendRecord(parts[p], d.Row)
		counts[p]++
		puts = append(puts, wlog.Put{Key: replayKey(stream, off), Value: []byte(g.opts.Now().UTC().Format("2006-01-02T15:04:05.000Z"))})
		res.Accepted++
		return nil
	}

	from, to, next := start, end, 0 // next: index into offsets of the next one wanted
	if !all && len(offsets) > 0 {
		from, to = offsets[0], min(end, offsets[len(offsets)-1]+1)
	}
	if all || len(offsets) > 0 {
		err := g.scanQuarantine(ctx, stream, from, to, func(off int64, rec []byte) (bool, error) {
			if !all {
				for next < len(offsets) && offsets[next] < off {
					next++
				}
				if next == len(offsets) {
					return false, nil
				}
				if offsets[next] != off {
					return true, nil
				}
				next++
			}
			seen++
			return seen < maxReplay, one(off, rec)
		})
		if err != nil {
			return ReplayResult{}, err
		}
	}
	if !all {
		for ; next < len(offsets); next++ { // below start after retention ran meanwhile
			res.NotFound = append(res.NotFound, offsets[next])
		}
	}
	if res.Accepted == 0 {
		return res, nil
	}
	w := &wlog.Write{Puts: puts}
	for p := range parts {
		if counts[p] > 0 {
			w.Chunks = append(w.Chunks, wlog.Chunk{Stream: st.Name, Partition: p, Meta: st.Version, Count: counts[p], Payload: parts[p]})
		}
	}
	if _, err := g.log.Append(ctx, w); err != nil {
		if ctx.Err() != nil {
			return ReplayResult{}, ctx.Err()
		}
		return ReplayResult{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if m := g.opts.Metrics; m != nil && m.Replayed != nil {
		m.Replayed.WithLabelValues(st.Name).Add(float64(res.Accepted))
	}
	return res, nil
}

// ErrBadReplay: the replay request itself is wrong (HTTP 400).
var ErrBadReplay = errors.New("bad replay request")

// replayed reports whether the quarantined record at off was replayed.
func (g *Gate) replayed(stream string, off int64) bool {
	_, ok, err := g.meta.Get(replayKey(stream, off))
	return err == nil && ok
}

// scanQuarantine calls fn with each record of stream's quarantine at
// offsets in [from, end), in order, until fn returns false or an error.
func (g *Gate) scanQuarantine(ctx context.Context, stream string, from, end int64, fn func(off int64, rec []byte) (bool, error)) error {
	qs := QuarantineStream(stream)
	for from < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		batches, err := g.log.Read(qs, 0, from, 1<<20)
		if err != nil {
			return err
		}
		if len(batches) == 0 {
			return nil
		}
		for i := range batches {
			more := true
			var ferr error
			err := batches[i].Records(func(off int64, rec []byte) bool {
				if off < from {
					return true
				}
				if off >= end {
					more = false
					return false
				}
				more, ferr = fn(off, rec)
				return more && ferr == nil
			})
			if err == nil {
				err = ferr
			}
			if err != nil || !more {
				return err
			}
		}
		from = batches[len(batches)-1].End()
	}
	return nil
}
