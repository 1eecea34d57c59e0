package lake

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/weirhq/weir/internal/schema"
)

// ParquetSchema maps stream columns to a Parquet schema whose field IDs match
// the Iceberg schema (1-based column positions).
func ParquetSchema(cols []schema.Column) *parquet.Schema {
	g := parquet.Group{}
	for i, c := range cols {
		var n parquet.Node
		switch c.Type {
		case schema.String:
			n = parquet.String()
		case schema.Int64:
			n = parquet.Int(64)
		case schema.Float64:
			n = parquet.Leaf(parquet.DoubleType)
		case schema.Bool:
			n = parquet.Leaf(parquet.BooleanType)
		case schema.Timestamp:
			// Event times in one file are close to each other and close to
			// sorted: deltas take a fraction of the bytes, and zstd has
			// that much less to do.
			n = parquet.Encoded(parquet.TimestampAdjusted(parquet.Microsecond, true), &parquet.DeltaBinaryPacked)
		}
		if !c.Required || c.Nullable {
			n = parquet.Optional(n)
		}
		g[c.Name] = parquet.FieldID(n, i+1)
	}
	return parquet.NewSchema("weir", g)
}

// fileStats are the Iceberg metrics of a written file, keyed by field ID.
type fileStats struct {
	rows, size  int64
	valueCounts map[int]int64
	nullCounts  map[int]int64
	lower       map[int][]byte
	upper       map[int][]byte
}

// maxBoundLen: longer string bounds are left out rather than truncated
// (a truncated upper bound needs care to stay an upper bound).
const maxBoundLen = 64

// zstdFastest is zstd's fastest level. On clickstream rows it writes files
// no bigger than the default level's (16.8 against 17.2 bytes per row in
// BenchmarkWriteParquet) for about 15% less CPU per row; the lake sink
// shares two cores with ingestion, so CPU is what it must save.
var zstdFastest = zstd.Codec{Level: zstd.SpeedFastest}

// writeParquet writes one hour's rows to path (zstd, fsynced) and returns
// its statistics.
func writeParquet(path string, cols []schema.Column, c *columns, rowGroupRows int64) (*fileStats, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("cannot create %q: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot create data file: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(path)
		}
	}()
	sch := ParquetSchema(fileColumns(cols, c))
	pw := parquet.NewGenericWriter[any](f, sch,
		parquet.Compression(&zstdFastest),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		// Min/max per page stay in the column index, which readers use to
		// skip pages; in every page header too they cost 7% of the writer.
		parquet.DataPageStatistics(false),
		parquet.CreatedBy("weir", "0.1", ""))

	// Leaf order in the Parquet schema (Group sorts by name) -> our column.
	leafCol := make([]int, len(cols))
	optional := make([]bool, len(cols))
	for leaf, field := range sch.Fields() {
		for i := range cols {
			if cols[i].Name == field.Name() {
				leafCol[leaf] = i
				optional[leaf] = field.Optional()
			}
		}
	}
	// Column by column, straight from the buffer: no rows to assemble and
	// take apart again. A row group ends at each rowGroupRows rows.
	const batch = 1024
	vals := make([]parquet.Value, batch)
	writers := pw.ColumnWriters()
	for rg := 0; rg < c.n; rg += int(rowGroupRows) {
		rgEnd := min(rg+int(rowGroupRows), c.n)
		for leaf, ci := range leafCol {
			cv := &c.cols[ci]
			typ := cols[ci].Type
			for start := rg; start < rgEnd; start += batch {
				n := min(batch, rgEnd-start)
				if optional[leaf] {
					fillOptional(vals[:n], cv, typ, start, leaf)
				} else {
					fillRequired(vals[:n], cv, typ, start)
				}
				if _, err := writers[leaf].WriteRowValues(vals[:n]); err != nil {
					return nil, fmt.Errorf("cannot write column %q to %q: %w", cols[ci].Name, path, err)
				}
			}
		}
		if err := pw.Flush(); err != nil {
			return nil, fmt.Errorf("cannot write a row group to %q: %w", path, err)
		}
	}
	if err := pw.Close(); err != nil {
		return nil, fmt.Errorf("cannot finish %q: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("cannot sync %q: %w", path, err)
	}
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("cannot close %q: %w", path, err)
	}
	ok = true
	st := stats(cols, c)
	st.size = info.Size()
	return st, nil
}

// fileColumns are the columns as a file writes them: a required column
// that holds nulls (rows of an older schema version that lacked it, see
// buffer.project) is written as optional, so they stay nulls instead of
// becoming 0, "" or false.
func fileColumns(cols []schema.Column, c *columns) []schema.Column {
	var out []schema.Column // a copy, made at the first column to change
	for i := range cols {
		if cols[i].Required && !cols[i].Nullable && slices.Contains(c.cols[i].nulls, true) {
			if out == nil {
				out = slices.Clone(cols)
			}
			out[i].Nullable = true
		}
	}
	if out == nil {
		return cols
	}
	return out
}

// fillRequired sets vals to the values of rows start… of a column, with
// the levels of a required one: all 0, the zero Value's (its writer reads
// only the value). A written required column has no nulls (fileColumns);
// fillOptional sets the levels after it.
func fillRequired(vals []parquet.Value, cv *colVec, typ schema.Type, start int) {
	switch typ {
	case schema.String:
		for r := range vals {
			vals[r] = parquet.ByteArrayValue(cv.str(start + r))
		}
	case schema.Float64:
		for r := range vals {
			vals[r] = parquet.DoubleValue(cv.floats[start+r])
		}
	case schema.Bool:
		for r := range vals {
			vals[r] = parquet.BooleanValue(cv.ints[start+r] != 0)
		}
	default:
		for r := range vals {
			vals[r] = parquet.Int64Value(cv.ints[start+r])
		}
	}
}

// fillOptional sets vals to the values of rows start… of an optional
// column, with their definition levels (0 for a null, 1 for a value).
func fillOptional(vals []parquet.Value, cv *colVec, typ schema.Type, start, leaf int) {
	fillRequired(vals, cv, typ, start)
	for r := range vals {
		if cv.isNull(start + r) {
			vals[r] = parquet.NullValue().Level(0, 0, leaf)
		} else {
			vals[r] = vals[r].Level(0, 1, leaf)
		}
	}
}

func stats(cols []schema.Column, c *columns) *fileStats {
	st := &fileStats{rows: int64(c.n), valueCounts: map[int]int64{}, nullCounts: map[int]int64{},
		lower: map[int][]byte{}, upper: map[int][]byte{}}
	for ci, col := range cols {
		id := ci + 1
		cv := &c.cols[ci]
		var nulls int64
		first := true
		var lo, hi []byte
		var ilo, ihi int64
		var flo, fhi float64
		tooLong := false
		for i := range c.n {
			if cv.isNull(i) {
				nulls++
				continue
			}
			switch col.Type {
			case schema.String:
				s := cv.str(i)
				if len(s) > maxBoundLen {
					tooLong = true
				}
				if first || bytes.Compare(s, lo) < 0 {
					lo = s
				}
				if first || bytes.Compare(s, hi) > 0 {
					hi = s
				}
			case schema.Float64:
				f := cv.floats[i]
				if math.IsNaN(f) {
					continue
				}
				if first || f < flo {
					flo = f
				}
				if first || f > fhi {
					fhi = f
				}
			default:
				x := cv.ints[i]
				if first || x < ilo {
					ilo = x
				}
				if first || x > ihi {
					ihi = x
				}
			}
			first = false
		}
		st.valueCounts[id] = int64(c.n)
		st.nullCounts[id] = nulls
		if first {
			continue // all null
		}
		switch col.Type {
		case schema.String:
			if !tooLong {
				st.lower[id], st.upper[id] = bytes.Clone(lo), bytes.Clone(hi)
			}
		case schema.Float64:
			st.lower[id] = binary.LittleEndian.AppendUint64(nil, math.Float64bits(flo))
			st.upper[id] = binary.LittleEndian.AppendUint64(nil, math.Float64bits(fhi))
		case schema.Bool:
			st.lower[id], st.upper[id] = []byte{byte(ilo)}, []byte{byte(ihi)}
		default:
			st.lower[id] = binary.LittleEndian.AppendUint64(nil, uint64(ilo))
			st.upper[id] = binary.LittleEndian.AppendUint64(nil, uint64(ihi))
		}
	}
	return st
}
