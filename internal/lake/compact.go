package lake

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/cespare/xxhash/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/weirhq/weir/internal/schema"
)

// CompactOptions say which files compaction merges.
type CompactOptions struct {
	// TargetRows: a merged file holds at most this many rows (default
	// 1,000,000); files with half as many or more are left alone.
	TargetRows int64
	// MinFiles: an hour is compacted once it has this many small files
	// (default 4).
	MinFiles int
	// RowGroupRows of the merged files (default 128Ki): smaller row groups
	// of time-sorted rows let a time filter skip more of a file.
	RowGroupRows int64
}

// CompactResult says what one compaction did.
type CompactResult struct {
	Hours    int   // hour partitions rewritten
	FilesIn  int   // small files replaced
	FilesOut int   // merged files written
	Rows     int64 // rows rewritten
}

// PropCompacted marks a snapshot written by compaction (summary property).
const PropCompacted = "weir.compacted"

// Compact merges the small files of each closed hour partition (every hour
// but the newest the table holds, which is still being written) into files
// of up to TargetRows rows sorted by event time, and commits the swap as one
// Iceberg snapshot that keeps the table's rows and offsets as they were.
// Readers see either the old files or the new ones, never both; the old
// files stay on disk for the snapshots that reference them and go when
// those expire. Appends go on meanwhile: the merged files are written
// without the commit lock, which is taken only to commit.
func (w *Writer) Compact(ctx context.Context, o CompactOptions) (CompactResult, error) {
	if o.TargetRows <= 0 {
		o.TargetRows = 1_000_000
	}
	if o.MinFiles <= 1 {
		o.MinFiles = 4
	}
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = 128 << 10
	}
	groups, err := w.planCompaction(ctx, o)
	if err != nil || len(groups) == 0 {
		return CompactResult{}, err
	}
	var res CompactResult
	var olds, news []iceberg.DataFile
	var written []string
	defer func() { w.cleanup(written, "") }() // cleared once committed
	for _, g := range groups {
		df, path, rows, err := w.merge(g, o)
		if err != nil {
			return CompactResult{}, err
		}
		written = append(written, path)
		olds = append(olds, g.files...)
		news = append(news, df)
		res.FilesIn += len(g.files)
		res.FilesOut++
		res.Rows += rows
	}
	hours := map[int32]bool{}
	for _, g := range groups {
		hours[g.hour] = true
	}
	res.Hours = len(hours)

	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	prev := w.State()
	offJSON, _ := json.Marshal(prev.Offsets)
	tx := w.tbl.NewTransaction()
	props := iceberg.Properties{PropOffsets: string(offJSON), PropStream: w.opts.Stream,
		PropCompacted: fmt.Sprintf("%d files into %d", res.FilesIn, res.FilesOut)}
	if err := tx.ReplaceDataFilesWithDataFiles(ctx, olds, news, props); err != nil {
		return CompactResult{}, fmt.Errorf("table %q: cannot stage the compaction: %w", w.opts.Table, err)
	}
	tbl, err := tx.Commit(ctx)
	if err != nil {
		// Ambiguous: did the swap land? The current snapshot says.
		if rerr := w.tbl.Refresh(ctx); rerr != nil || !w.references(ctx, written[0]) {
			return CompactResult{}, fmt.Errorf("table %q: compaction commit failed: %w", w.opts.Table, err)
		}
		tbl = w.tbl
	}
	written = nil // committed: the table owns them
	if err := syncFS(w.opts.Warehouse); err != nil {
		return CompactResult{}, fmt.Errorf("table %q: cannot sync the lake after compaction: %w", w.opts.Table, err)
	}
	w.tbl = tbl
	gone := map[string]bool{}
	for _, df := range olds {
		gone[localPath(df.FilePath())] = true
	}
	files := make([]string, 0, len(prev.Files)-len(olds)+len(news))
	var fileHours []int32
	for i, f := range prev.Files {
		if !gone[f] {
			files = append(files, f)
			fileHours = append(fileHours, prev.Hours[i])
		}
	}
	for i, df := range news {
		files = append(files, localPath(df.FilePath()))
		fileHours = append(fileHours, groups[i].hour)
	}
	next := *prev
	next.SnapshotID, next.Files, next.Hours = tbl.CurrentSnapshot().SnapshotID, files, fileHours
	w.state.Store(&next)
	if m := w.opts.Metrics; m != nil && m.FilesCompacted != nil {
		m.FilesCompacted.WithLabelValues(w.opts.Table).Add(float64(res.FilesIn))
	}
	w.opts.Logger.Info("lake compaction", "table", w.opts.Table, "hours", res.Hours, "files_in", res.FilesIn, "files_out", res.FilesOut, "rows", res.Rows)
	return res, nil
}

// compactGroup is small files of one hour to merge into one.
type compactGroup struct {
	hour  int32
	files []iceberg.DataFile
	rows  int64
}

// planCompaction picks the groups to merge from the current snapshot.
func (w *Writer) planCompaction(ctx context.Context, o CompactOptions) ([]compactGroup, error) {
	w.commitMu.Lock()
	tbl := w.tbl
	w.commitMu.Unlock()
	if tbl.CurrentSnapshot() == nil {
		return nil, nil
	}
	tasks, err := tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list the files of table %q: %w", w.opts.Table, err)
	}
	byHour := map[int32][]iceberg.DataFile{}
	newest := int32(-1 << 31)
	for _, t := range tasks {
		h, ok := t.File.Partition()[hourFieldID].(int32)
		if !ok {
			continue
		}
		newest = max(newest, h)
		if t.File.Count() < o.TargetRows/2 {
			byHour[h] = append(byHour[h], t.File)
		}
	}
	var groups []compactGroup
	for h, files := range byHour {
		if h == newest || len(files) < o.MinFiles {
			continue
		}
		slices.SortFunc(files, func(a, b iceberg.DataFile) int { return cmp.Compare(a.FilePath(), b.FilePath()) })
		var g compactGroup
		for _, f := range files {
			if g.rows > 0 && g.rows+f.Count() > o.TargetRows {
				if len(g.files) > 1 {
					groups = append(groups, g)
				}
				g = compactGroup{}
			}
			g.hour = h
			g.files = append(g.files, f)
			g.rows += f.Count()
		}
		if len(g.files) > 1 {
			groups = append(groups, g)
		}
	}
	slices.SortFunc(groups, func(a, b compactGroup) int { return cmp.Compare(a.hour, b.hour) })
	return groups, nil
}

// merge reads a group's files, sorts the rows by event time and writes
// them as one file named after its inputs (a retry writes the same name).
func (w *Writer) merge(g compactGroup, o CompactOptions) (iceberg.DataFile, string, int64, error) {
	cols := w.opts.Schema.Columns
	all := &columns{cols: make([]colVec, len(cols))}
	h := xxhash.New()
	for _, f := range g.files {
		path := localPath(f.FilePath())
		h.WriteString(path)
		if err := readParquet(path, cols, all); err != nil {
			return nil, "", 0, fmt.Errorf("table %q: compaction: %w", w.opts.Table, err)
		}
	}
	sorted := all.sortedBy(cols, w.opts.EventCol)
	path := filepath.Join(w.dir, "data", w.spec.Field(0).Name+"="+hourString(g.hour),
		fmt.Sprintf("compact-%016x-h%d.parquet", h.Sum64(), g.hour))
	st, err := writeParquet(path, cols, sorted, o.RowGroupRows)
	if err != nil {
		return nil, "", 0, fmt.Errorf("table %q: compaction: %w", w.opts.Table, err)
	}
	df, err := w.dataFile(path, g.hour, st)
	if err != nil {
		os.Remove(path)
		return nil, "", 0, err
	}
	return df, path, st.rows, nil
}

// snapshotFiles returns the data files every snapshot of tbl references:
// what time travel and running queries may still read.
func snapshotFiles(ctx context.Context, tbl *table.Table) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, s := range tbl.Metadata().Snapshots() {
		tasks, err := tbl.Scan(table.WithSnapshotID(s.SnapshotID)).PlanFiles(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range tasks {
			if p := localPath(t.File.FilePath()); !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// references reports whether the current snapshot holds the file.
func (w *Writer) references(ctx context.Context, path string) bool {
	tasks, err := w.tbl.Scan().PlanFiles(ctx)
	if err != nil {
		return false
	}
	for _, t := range tasks {
		if localPath(t.File.FilePath()) == path {
			return true
		}
	}
	return false
}

func localPath(p string) string { return strings.TrimPrefix(p, "file://") }

// readParquet appends the rows of one of our data files to c.
func readParquet(path string, cols []schema.Column, c *columns) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, info.Size())
	if err != nil {
		return fmt.Errorf("cannot read %q: %w", path, err)
	}
	// Leaf -> our column, by name (a file of an older schema may lack some).
	fields := pf.Schema().Fields()
	leafCol := make([]int, len(fields))
	for leaf, field := range fields {
		leafCol[leaf] = -1
		for i := range cols {
			if cols[i].Name == field.Name() {
				leafCol[leaf] = i
			}
		}
	}
	vals := make([]parquet.Value, 1024)
	for _, rg := range pf.RowGroups() {
		n := int(rg.NumRows())
		seen := make([]bool, len(cols))
		for leaf, chunk := range rg.ColumnChunks() {
			ci := leafCol[leaf]
			if ci < 0 {
				continue
			}
			seen[ci] = true
			cv := &c.cols[ci]
			got := 0
			pages := chunk.Pages()
			for {
				page, err := pages.ReadPage()
				if err != nil {
					if errors.Is(err, io.EOF) {
						break
					}
					pages.Close()
					return fmt.Errorf("cannot read column %q of %q: %w", cols[ci].Name, path, err)
				}
				rv := page.Values()
				for {
					k, err := rv.ReadValues(vals)
					for _, v := range vals[:k] {
						cv.appendValue(cols[ci].Type, v, c.n+got)
						got++
					}
					if err != nil {
						break
					}
				}
				parquet.Release(page)
			}
			pages.Close()
			if got != n {
				return fmt.Errorf("%q: column %q has %d values in a row group of %d rows", path, cols[ci].Name, got, n)
			}
		}
		for ci, ok := range seen {
			if !ok { // a column the file's schema version lacks
				for r := range n {
					c.cols[ci].appendValue(cols[ci].Type, parquet.NullValue(), c.n+r)
				}
			}
		}
		c.n += n
	}
	return nil
}

// appendValue adds row i's value (rows before it are in the vector).
func (cv *colVec) appendValue(t schema.Type, v parquet.Value, i int) {
	if v.IsNull() {
		if cv.nulls == nil {
			cv.nulls = make([]bool, i, max(i*2, 64))
		}
		cv.nulls = append(cv.nulls, true)
		switch t {
		case schema.String:
			cv.ends = append(cv.ends, uint32(len(cv.strs)))
		case schema.Float64:
			cv.floats = append(cv.floats, 0)
		default:
			cv.ints = append(cv.ints, 0)
		}
		return
	}
	if cv.nulls != nil {
		cv.nulls = append(cv.nulls, false)
	}
	switch t {
	case schema.String:
		cv.strs = append(cv.strs, v.ByteArray()...)
		cv.ends = append(cv.ends, uint32(len(cv.strs)))
	case schema.Float64:
		cv.floats = append(cv.floats, v.Double())
	case schema.Bool:
		b := int64(0)
		if v.Boolean() {
			b = 1
		}
		cv.ints = append(cv.ints, b)
	default:
		cv.ints = append(cv.ints, v.Int64())
	}
}

// sortedBy returns the rows ordered by an int column (the event time),
// stable, as a new set of vectors.
func (c *columns) sortedBy(cols []schema.Column, col int) *columns {
	order := make([]int32, c.n)
	for i := range order {
		order[i] = int32(i)
	}
	key := c.cols[col].ints
	slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(key[a], key[b]) })
	out := &columns{n: c.n, cols: make([]colVec, len(c.cols))}
	for ci := range c.cols {
		src, dst := &c.cols[ci], &out.cols[ci]
		if src.nulls != nil {
			dst.nulls = make([]bool, c.n)
			for i, o := range order {
				dst.nulls[i] = src.nulls[o]
			}
		}
		switch cols[ci].Type {
		case schema.String:
			dst.strs = make([]byte, 0, len(src.strs))
			dst.ends = make([]uint32, c.n)
			for i, o := range order {
				dst.strs = append(dst.strs, src.str(int(o))...)
				dst.ends[i] = uint32(len(dst.strs))
			}
		case schema.Float64:
			dst.floats = make([]float64, c.n)
			for i, o := range order {
				dst.floats[i] = src.floats[o]
			}
		default:
			dst.ints = make([]int64, c.n)
			for i, o := range order {
				dst.ints[i] = src.ints[o]
			}
		}
	}
	return out
}
