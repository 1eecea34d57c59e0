package inbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/gate"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/schema"
)

// current reads the feed's current snapshot.
func (s *Source) current() (connect.Snapshot, bool, error) {
	var snap connect.Snapshot
	v, ok, err := s.env.Meta.Get(connect.SnapshotKey(s.env.Name))
	if err != nil || !ok {
		return snap, false, err
	}
	if err := json.Unmarshal(v, &snap); err != nil {
		return snap, false, fmt.Errorf("BUG: stored snapshot of source %s: %v", s.env.Name, err)
	}
	return snap, true, nil
}

// publish makes a fully ingested file the current snapshot: its position
// done and the snapshot record (the log range of its rows) in one write,
// after every batch of it is durable. Then it writes the diff report.
func (s *Source) publish(ctx context.Context, hash string, pos position, f *os.File) error {
	prev, hadPrev, err := s.current()
	if err != nil {
		return err
	}
	end, err := s.env.Ends()
	if err != nil {
		return err
	}
	done, err := s.target(ctx, pos.File, "done", hash)
	if err != nil {
		return err
	}
	snap := connect.Snapshot{File: done, SHA256: hash, Rows: pos.Rows, Start: pos.Start, End: end,
		At: time.Now().UTC().Format(time.RFC3339)}
	if hadPrev {
		snap.Previous = prev.File
	}
	v, _ := json.Marshal(snap)
	pos.State = "done"
	req := gate.Request{Stream: s.env.Stream, Format: gate.Records, Source: "inbox",
		Puts: []wlog.Put{s.put(hash, pos), {Key: connect.SnapshotKey(s.env.Name), Value: v}}}
	if _, err := s.send(ctx, req); err != nil {
		return err
	}
	s.report(ctx, snap, f, pos.File)
	return nil
}

// report writes done/NAME.diff.json for a published snapshot (its content
// in f, named name in the inbox), unless it is there already.
func (s *Source) report(ctx context.Context, snap connect.Snapshot, f *os.File, name string) {
	out := snap.File + ".diff.json"
	if there, err := s.store.exists(ctx, "done", out); err != nil || there {
		return
	}
	r, err := s.diff(ctx, snap.Previous, f, name)
	if err != nil {
		s.env.Logger.Warn("inbox source cannot diff the snapshot against the previous one", "file", snap.File, "previous", snap.Previous, "err", err)
		return
	}
	r.File, r.Previous, r.SHA256, r.At = snap.File, snap.Previous, snap.SHA256, snap.At
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := s.store.write(ctx, "done", out, append(b, '\n')); err != nil {
		s.env.Logger.Warn("inbox source cannot write the diff report", "file", snap.File, "err", err)
	}
	s.env.Logger.Info("inbox source published a snapshot", "file", snap.File, "previous", snap.Previous, "rows", r.Rows,
		"added", r.Added, "removed", r.Removed, "changed", r.Changed, "unchanged", r.Unchanged)
}

// diffReport is what changed from one snapshot to the next, by key.
type diffReport struct {
	File           string   `json:"file"`
	Previous       string   `json:"previous,omitempty"`
	SHA256         string   `json:"sha256"`
	At             string   `json:"at"`
	Rows           int      `json:"rows"` // valid rows of the new snapshot
	Added          int      `json:"added"`
	Removed        int      `json:"removed"`
	Changed        int      `json:"changed"`
	Unchanged      int      `json:"unchanged"`
	DuplicateKeys  int      `json:"duplicate_keys"` // rows whose key an earlier row of the same file had (the later one counts)
	ColumnsAdded   []string `json:"columns_added,omitempty"`
	ColumnsRemoved []string `json:"columns_removed,omitempty"`
	Examples       struct {
		Added   []string `json:"added,omitempty"`
		Removed []string `json:"removed,omitempty"`
		Changed []string `json:"changed,omitempty"`
	} `json:"examples"`
}

const maxExamples = 10

// keyed is one snapshot's rows by key: the hash of each row's values, and
// its key as text (for the examples).
type keyed struct {
	rows    map[uint64]keyedRow
	columns []string
	dups    int
	valid   int
}

type keyedRow struct {
	hash uint64
	key  string
}

// diff compares the snapshot in f with the previous one, done/prev ("" for
// none).
func (s *Source) diff(ctx context.Context, prev string, f *os.File, name string) (*diffReport, error) {
	cur, err := s.load(f, name)
	if err != nil {
		return nil, err
	}
	r := &diffReport{Rows: cur.valid, DuplicateKeys: cur.dups}
	var old *keyed
	if prev != "" {
		pf, _, release, err := s.store.fetch(ctx, "done", prev)
		if err != nil {
			return nil, fmt.Errorf("cannot read the previous snapshot: %w", err)
		}
		old, err = s.load(pf, prev)
		pf.Close()
		release()
		if err != nil {
			return nil, fmt.Errorf("cannot read the previous snapshot: %w", err)
		}
	} else {
		old = &keyed{rows: map[uint64]keyedRow{}, columns: cur.columns}
	}
	example := func(list *[]string, key string) {
		if len(*list) < maxExamples {
			*list = append(*list, key)
		}
	}
	for k, row := range cur.rows {
		old, ok := old.rows[k]
		switch {
		case !ok:
			r.Added++
			example(&r.Examples.Added, row.key)
		case old.hash != row.hash:
			r.Changed++
			example(&r.Examples.Changed, row.key)
		default:
			r.Unchanged++
		}
	}
	for k, row := range old.rows {
		if _, ok := cur.rows[k]; !ok {
			r.Removed++
			example(&r.Examples.Removed, row.key)
		}
	}
	for _, l := range [][]string{r.Examples.Added, r.Examples.Removed, r.Examples.Changed} {
		slices.Sort(l)
	}
	for _, c := range cur.columns {
		if !slices.Contains(old.columns, c) {
			r.ColumnsAdded = append(r.ColumnsAdded, c)
		}
	}
	for _, c := range old.columns {
		if !slices.Contains(cur.columns, c) {
			r.ColumnsRemoved = append(r.ColumnsRemoved, c)
		}
	}
	return r, nil
}

// load reads a snapshot file's valid rows by key. Rows the schema rejects
// (quarantined when ingested) are left out.
func (s *Source) load(f *os.File, name string) (*keyed, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	rd, err := s.reader(f, name, info.Size())
	if err != nil {
		return nil, err
	}
	if err := rd.seek(0, 0); err != nil {
		return nil, err
	}
	out := &keyed{rows: map[uint64]keyedRow{}, columns: rd.columns()}
	dec := schema.NewDecoder(s.env.Schema, s.env.Key)
	var row []byte
	var vals []schema.Value
	for {
		b, err := rd.batch(s.maxBatch)
		if err != nil {
			return nil, err
		}
		for _, rec := range b.req.Records {
			d, err := dec.Decode(row[:0], rec)
			if err != nil {
				continue
			}
			row = d.Row
			out.valid++
			h, k := xxhash.Sum64(row), d.KeyHash
			if len(s.env.Key) == 0 { // no key: a row is its own key
				k = h
			}
			if _, dup := out.rows[k]; dup {
				out.dups++
			}
			vals, _ = schema.DecodeRow(s.env.Schema.Columns, row, vals[:0])
			out.rows[k] = keyedRow{hash: h, key: keyText(s.env.Schema, s.env.Key, vals)}
		}
		if b.last {
			return out, nil
		}
	}
}

// keyText renders a row's key columns, joined by "|".
func keyText(sc *schema.Schema, key []int, vals []schema.Value) string {
	parts := make([]string, len(key))
	for i, k := range key {
		v := vals[k]
		switch {
		case v.Null:
			parts[i] = "null"
		case sc.Columns[k].Type == schema.String:
			parts[i] = string(v.Bytes)
		case sc.Columns[k].Type == schema.Float64:
			parts[i] = fmt.Sprint(v.Float)
		case sc.Columns[k].Type == schema.Timestamp:
			parts[i] = time.UnixMicro(v.Int).UTC().Format(time.RFC3339Nano)
		default:
			parts[i] = fmt.Sprint(v.Int)
		}
	}
	return strings.Join(parts, "|")
}
