package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The row format, one record of the log:
//
//	null bitmap: ceil(len(columns)/8) bytes, bit i set when column i is null
//	then, for each non-null column in schema order:
//	  String            uvarint length, bytes
//	  Int64, Timestamp  zigzag varint
//	  Float64           8 bytes, IEEE 754, little endian
//	  Bool              1 byte, 0 or 1
//
// A record does not carry its schema: the log stores the schema version with
// every chunk of records.

// ErrCorruptRow reports a record that does not decode under its schema.
var ErrCorruptRow = errors.New("corrupt row")

// Value is one decoded column value. Bytes aliases the record it came from.
type Value struct {
	Null  bool
	Int   int64 // Int64, Timestamp (µs since epoch), Bool (0 or 1)
	Float float64
	Bytes []byte // String
}

// DecodeRow decodes rec into dst, one Value per column, and returns dst.
func DecodeRow(cols []Column, rec []byte, dst []Value) ([]Value, error) {
	n := len(cols)
	nb := (n + 7) / 8
	if len(rec) < nb {
		return dst, fmt.Errorf("%w: %d bytes, shorter than its null bitmap", ErrCorruptRow, len(rec))
	}
	bitmap, p := rec[:nb], nb
	dst = dst[:0]
	for i := range cols {
		if bitmap[i>>3]&(1<<(i&7)) != 0 {
			dst = append(dst, Value{Null: true})
			continue
		}
		var v Value
		switch cols[i].Type {
		case String:
			l, k := binary.Uvarint(rec[p:])
			if k <= 0 || uint64(len(rec)-p-k) < l {
				return dst, fmt.Errorf("%w: column %q: bad string length", ErrCorruptRow, cols[i].Name)
			}
			p += k
			v.Bytes = rec[p : p+int(l) : p+int(l)]
			p += int(l)
		case Int64, Timestamp:
			x, k := binary.Varint(rec[p:])
			if k <= 0 {
				return dst, fmt.Errorf("%w: column %q: bad varint", ErrCorruptRow, cols[i].Name)
			}
			p += k
			v.Int = x
		case Float64:
			if len(rec)-p < 8 {
				return dst, fmt.Errorf("%w: column %q: truncated double", ErrCorruptRow, cols[i].Name)
			}
			v.Float = math.Float64frombits(binary.LittleEndian.Uint64(rec[p:]))
			p += 8
		case Bool:
			if p >= len(rec) {
				return dst, fmt.Errorf("%w: column %q: truncated boolean", ErrCorruptRow, cols[i].Name)
			}
			v.Int = int64(rec[p])
			p++
		default:
			panic(fmt.Sprintf("BUG: column %q has type %v", cols[i].Name, cols[i].Type))
		}
		dst = append(dst, v)
	}
	if p != len(rec) {
		return dst, fmt.Errorf("%w: %d trailing bytes", ErrCorruptRow, len(rec)-p)
	}
	return dst, nil
}

// RowBuilder appends rows in the row format to a buffer.
type RowBuilder struct {
	cols  []Column
	start int // offset of the current row's bitmap in buf
	buf   []byte
}

// Begin starts a new row at the end of buf.
func (b *RowBuilder) Begin(buf []byte) {
	b.buf = buf
	b.start = len(buf)
	for range (len(b.cols) + 7) / 8 {
		b.buf = append(b.buf, 0)
	}
}

// Null marks column i of the current row as null.
func (b *RowBuilder) Null(i int) { b.buf[b.start+i>>3] |= 1 << (i & 7) }

// String, Int, Float and Bool append the next non-null value; the caller
// appends values in column order.
func (b *RowBuilder) String(s []byte) {
	b.buf = binary.AppendUvarint(b.buf, uint64(len(s)))
	b.buf = append(b.buf, s...)
}
func (b *RowBuilder) Int(x int64) { b.buf = binary.AppendVarint(b.buf, x) }
func (b *RowBuilder) Float(f float64) {
	b.buf = binary.LittleEndian.AppendUint64(b.buf, math.Float64bits(f))
}
func (b *RowBuilder) Bool(x bool) {
	if x {
		b.buf = append(b.buf, 1)
	} else {
		b.buf = append(b.buf, 0)
	}
}

// Bytes returns the buffer with the rows appended so far.
func (b *RowBuilder) Bytes() []byte { return b.buf }

// EncodeRow appends one row of values (one per column) to dst. It is the
// slow path used by tests and tools; the gate builds rows as it parses.
func EncodeRow(cols []Column, dst []byte, vals []Value) []byte {
	b := RowBuilder{cols: cols}
	b.Begin(dst)
	for i, v := range vals {
		if v.Null {
			b.Null(i)
			continue
		}
		switch cols[i].Type {
		case String:
			b.String(v.Bytes)
		case Int64, Timestamp:
			b.Int(v.Int)
		case Float64:
			b.Float(v.Float)
		case Bool:
			b.Bool(v.Int != 0)
		}
	}
	return b.Bytes()
}
