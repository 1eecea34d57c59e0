package inbox

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/weirhq/weir/internal/schema"
)

// parquetReader reads a Parquet file's rows as JSON records. Its columns
// are checked against the schema's like a CSV header, and their types
// too: a column whose type cannot hold the schema's rejects the file.
// Positions are row numbers.
type parquetReader struct {
	f    *os.File
	name string
	size int64
	sc   *schema.Schema

	pf    *parquet.File
	cols  []pqColumn // per leaf column of the file
	names []string
	group int // the row group being read
	rows  parquet.Rows
	row   int64 // the next row's number in the file
	buf   []parquet.Row
	arena []byte
}

// pqColumn is how one leaf column of the file becomes a JSON member.
type pqColumn struct {
	key    []byte // `"name":`, nil: a column the schema allows but does not store
	kind   parquet.Kind
	typ    schema.Type
	unit   time.Duration // timestamps: one tick; dates: a day
	scale  int           // decimals
	isDec  bool
	isTime bool
}

func newParquet(f *os.File, name string, size int64, sc *schema.Schema) *parquetReader {
	return &parquetReader{f: f, name: name, size: size, sc: sc}
}

// decoderPanic turns a panic of the Parquet decoder, which some damaged
// files cause, into an error: a file from outside must not stop the node.
func decoderPanic(err *error) {
	if v := recover(); v != nil {
		*err = fmt.Errorf("the Parquet decoder failed on it: %v (the file is damaged)", v)
	}
}

// open reads the footer and maps the columns.
func (r *parquetReader) open() (p *problem) {
	if r.pf != nil {
		return nil
	}
	var err error
	defer func() {
		if err != nil {
			p = &problem{rule: "corrupt", reason: err.Error()}
		}
	}()
	defer decoderPanic(&err)
	if r.size == 0 {
		return &problem{rule: "empty", reason: "the file is empty"}
	}
	pf, oerr := parquet.OpenFile(r.f, r.size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if oerr != nil {
		err := oerr
		return &problem{rule: "truncated", reason: fmt.Sprintf("not a readable Parquet file: %v (it looks truncated or is not Parquet)", err)}
	}
	var unknown []string
	seen := map[string]bool{}
	for _, c := range pf.Root().Columns() {
		name := c.Name()
		if !c.Leaf() || c.Repeated() {
			return &problem{rule: "header", reason: fmt.Sprintf("column %q is nested or repeated; the inbox reads flat Parquet files, one value per column", name)}
		}
		seen[name] = true
		r.names = append(r.names, name)
		i := r.sc.ColumnIndex(name)
		if i < 0 {
			if !r.sc.AdditionalProperties {
				unknown = append(unknown, strconv.Quote(name))
			}
			r.cols = append(r.cols, pqColumn{})
			continue
		}
		pc, merr := mapColumn(c, r.sc.Columns[i])
		if merr != nil {
			return &problem{rule: "header", reason: merr.Error()}
		}
		r.cols = append(r.cols, pc)
	}
	if len(unknown) > 0 {
		return &problem{rule: "header", reason: fmt.Sprintf("wrong columns: %s not in the stream's schema, which has %s", strings.Join(unknown, ", "), strings.Join(r.sc.Names(), ", "))}
	}
	for _, c := range r.sc.Columns {
		if c.Required && !seen[c.Name] {
			return &problem{rule: "header", reason: fmt.Sprintf("wrong columns: required column %q is missing", c.Name)}
		}
	}
	r.pf = pf
	return nil
}

// mapColumn says how a Parquet column feeds a schema column, or why it
// cannot.
func mapColumn(c *parquet.Column, col schema.Column) (pqColumn, error) {
	t := c.Type()
	pc := pqColumn{key: schema.JSONKey(col.Name), kind: t.Kind(), typ: col.Type}
	var lt format.LogicalTypeValue
	if l := t.LogicalType(); l != nil {
		lt = l.Value
	}
	switch v := lt.(type) {
	case *format.TimestampType:
		pc.isTime = true
		switch v.Unit.Value.(type) {
		case *format.MilliSeconds:
			pc.unit = time.Millisecond
		case *format.MicroSeconds:
			pc.unit = time.Microsecond
		default:
			pc.unit = time.Nanosecond
		}
	case *format.DateType:
		pc.isTime, pc.unit = true, 24*time.Hour
	case *format.DecimalType:
		pc.isDec, pc.scale = true, int(v.Scale)
	}
	if ct := t.ConvertedType(); ct != nil && !pc.isTime {
		switch *ct {
		case deprecated.TimestampMillis:
			pc.isTime, pc.unit = true, time.Millisecond
		case deprecated.TimestampMicros:
			pc.isTime, pc.unit = true, time.Microsecond
		}
	}
	if pc.kind == parquet.Int96 {
		pc.isTime = true // the legacy Spark and Hive timestamp
	}
	ok := false
	switch col.Type {
	case schema.String:
		ok = pc.kind == parquet.ByteArray || pc.kind == parquet.FixedLenByteArray
	case schema.Int64:
		ok = !pc.isTime && !pc.isDec && (pc.kind == parquet.Int32 || pc.kind == parquet.Int64)
	case schema.Float64:
		ok = !pc.isTime && (pc.kind == parquet.Int32 || pc.kind == parquet.Int64 || pc.kind == parquet.Float || pc.kind == parquet.Double ||
			(pc.isDec && pc.kind == parquet.FixedLenByteArray))
	case schema.Bool:
		ok = pc.kind == parquet.Boolean
	case schema.Timestamp:
		ok = pc.isTime || pc.kind == parquet.ByteArray
	}
	if !ok {
		return pc, fmt.Errorf("column %q is %s in the file; the stream's schema wants %s", col.Name, t, col.Type)
	}
	return pc, nil
}

func (r *parquetReader) check() *problem {
	if p := r.open(); p != nil {
		return p
	}
	if r.pf.NumRows() == 0 {
		return &problem{rule: "empty", reason: "the file has no rows"}
	}
	// Read every page once: a corrupt page rejects the file before any row
	// is ingested.
	if err := r.seek(0, 0); err != nil {
		return &problem{rule: "corrupt", reason: err.Error()}
	}
	if cap(r.buf) < 256 {
		r.buf = make([]parquet.Row, 256)
	}
	for {
		n, err := r.readN(256)
		if err != nil {
			return &problem{rule: "corrupt", reason: fmt.Sprintf("row %d does not read: %v (the file is damaged)", r.row, err)}
		}
		if n == 0 {
			if r.row != r.pf.NumRows() {
				return &problem{rule: "corrupt", reason: fmt.Sprintf("its pages hold %d rows, its footer says %d (the file is damaged)", r.row, r.pf.NumRows())}
			}
			return nil
		}
		if r.row > r.pf.NumRows() {
			return &problem{rule: "corrupt", reason: fmt.Sprintf("its pages hold more than the %d rows its footer says (the file is damaged)", r.pf.NumRows())}
		}
	}
}

func (r *parquetReader) seek(next int64, _ int) error {
	if p := r.open(); p != nil {
		return fmt.Errorf("BUG: %s passed its check before: %s", r.name, p.reason)
	}
	if r.rows != nil {
		r.rows.Close()
		r.rows = nil
	}
	r.group, r.row = 0, 0
	for _, g := range r.pf.RowGroups() {
		if next < r.row+g.NumRows() {
			break
		}
		r.row += g.NumRows()
		r.group++
	}
	if r.group < len(r.pf.RowGroups()) {
		r.rows = r.pf.RowGroups()[r.group].Rows()
		if err := r.rows.SeekToRow(next - r.row); err != nil {
			return fmt.Errorf("cannot seek %s to row %d: %w", r.name, next, err)
		}
		r.row = next
	}
	return nil
}

func (r *parquetReader) batch(n int) (batch, error) {
	var b batch
	first := r.row
	r.arena = r.arena[:0]
	var ends []int
	for len(ends) < n {
		want := min(n-len(ends), 256)
		if cap(r.buf) < want {
			r.buf = make([]parquet.Row, 256)
		}
		got, err := r.readN(want)
		if err != nil {
			return batch{}, fmt.Errorf("cannot read %s at row %d: %w", r.name, r.row, err)
		}
		for _, row := range r.buf[:got] {
			r.arena = r.appendRow(r.arena, row)
			ends = append(ends, len(r.arena))
		}
		if got == 0 {
			b.last = true
			break
		}
	}
	b.req.Records = make([][]byte, len(ends))
	from := 0
	for i, e := range ends {
		b.req.Records[i] = r.arena[from:e:e]
		from = e
	}
	b.req.Origin = func(i int) string { return fmt.Sprintf("%s row %d", r.name, first+int64(i)+1) }
	b.next = r.row
	return b, nil
}

// readN reads up to n rows into r.buf[:n] (0 at the end of the file).
func (r *parquetReader) readN(n int) (_ int, err error) {
	defer decoderPanic(&err)
	for r.rows != nil {
		got, err := r.rows.ReadRows(r.buf[:n])
		if got > 0 {
			r.row += int64(got)
			return got, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		r.rows.Close()
		r.rows = nil
		if r.group++; r.group < len(r.pf.RowGroups()) {
			r.rows = r.pf.RowGroups()[r.group].Rows()
		}
	}
	return 0, nil
}

// appendRow writes one row as a JSON object; nulls are absent.
func (r *parquetReader) appendRow(dst []byte, row parquet.Row) []byte {
	dst = append(dst, '{')
	first := true
	for _, v := range row {
		ci := v.Column()
		if ci < 0 || ci >= len(r.cols) || v.IsNull() {
			continue
		}
		c := &r.cols[ci]
		if c.key == nil {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, c.key...)
		dst = c.appendValue(dst, v)
	}
	return append(dst, '}')
}

func (c *pqColumn) appendValue(dst []byte, v parquet.Value) []byte {
	switch {
	case c.isTime:
		var t time.Time
		switch c.kind {
		case parquet.Int96:
			t = int96Time(v.Int96())
		case parquet.Int32:
			t = time.Unix(0, 0).Add(time.Duration(v.Int32()) * c.unit)
		default:
			t = unixUnit(v.Int64(), c.unit)
		}
		return strconv.AppendQuote(dst, t.UTC().Format(time.RFC3339Nano))
	case c.isDec:
		var unscaled *big.Int
		switch c.kind {
		case parquet.Int32:
			unscaled = big.NewInt(int64(v.Int32()))
		case parquet.Int64:
			unscaled = big.NewInt(v.Int64())
		default: // big-endian two's complement
			b := v.ByteArray()
			unscaled = new(big.Int).SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 {
				unscaled.Sub(unscaled, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
		}
		f, _ := new(big.Float).SetPrec(64).Quo(new(big.Float).SetInt(unscaled), new(big.Float).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.scale)), nil))).Float64()
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	}
	switch c.kind {
	case parquet.Boolean:
		return strconv.AppendBool(dst, v.Boolean())
	case parquet.Int32:
		return strconv.AppendInt(dst, int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.AppendInt(dst, v.Int64(), 10)
	case parquet.Float:
		return appendFloat(dst, float64(v.Float()), 32)
	case parquet.Double:
		return appendFloat(dst, v.Double(), 64)
	default:
		return schema.AppendJSONStringRaw(dst, string(v.ByteArray()))
	}
}

// appendFloat writes a float as JSON; NaN and infinities, which JSON has
// no number for, as strings the decoder rejects with the field's name.
func appendFloat(dst []byte, f float64, bits int) []byte {
	s := strconv.FormatFloat(f, 'g', -1, bits)
	if strings.ContainsAny(s, "NI") {
		return schema.AppendJSONStringRaw(dst, s)
	}
	return append(dst, s...)
}

func unixUnit(n int64, unit time.Duration) time.Time {
	switch unit {
	case time.Millisecond:
		return time.UnixMilli(n)
	case time.Microsecond:
		return time.UnixMicro(n)
	}
	return time.Unix(0, n)
}

// int96Time decodes the legacy INT96 timestamp: nanoseconds of the day,
// then the Julian day number.
func int96Time(i deprecated.Int96) time.Time {
	nanos := int64(i[1])<<32 | int64(i[0])
	day := int64(i[2])
	const julianUnixEpoch = 2440588
	return time.Unix((day-julianUnixEpoch)*86400, nanos).UTC()
}

func (r *parquetReader) columns() []string { return r.names }
