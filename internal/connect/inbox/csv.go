package inbox

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/weirhq/weir/internal/gate"
	"github.com/weirhq/weir/internal/schema"
)

var bom = []byte("\xef\xbb\xbf")

// csvReader reads a CSV file's rows as JSON records of the stream's
// columns. Offsets are absolute in the file; lines count from 1.
type csvReader struct {
	f      *os.File
	name   string
	size   int64
	sc     *schema.Schema
	header bool
	final  bool // the file must end with a line break
	delim  rune

	start     int64    // after a BOM
	cols      []int    // per field: the schema column, or -1 (an extra column the schema allows)
	keys      [][]byte // per field: `"name":`
	names     []string // per field: the column name
	dataStart int64    // the first data row's offset
	dataLine  int

	rec      *recorder
	cr       *csv.Reader
	lineBase int   // csv.Reader's line 1 is this line + 1
	opened   int64 // csv.Reader's offset 0 is this offset
	off      int64 // where the next record starts
	line     int   // its line
	arena    []byte
}

func newCSV(f *os.File, name string, size int64, sc *schema.Schema, header, final bool, delim rune) *csvReader {
	return &csvReader{f: f, name: name, size: size, sc: sc, header: header, final: final, delim: delim}
}

// open starts a csv.Reader at offset off (line line).
func (r *csvReader) open(off int64, line int) {
	r.rec = &recorder{r: io.NewSectionReader(r.f, off, r.size-off), base: off, end: off}
	r.cr = csv.NewReader(bufio.NewReaderSize(r.rec, 256<<10))
	r.cr.Comma = r.delim
	r.cr.FieldsPerRecord = -1
	r.cr.ReuseRecord = true
	r.lineBase, r.opened = line-1, off
	r.off, r.line = off, line
}

// next reads one record: its fields (or a parse error), the bytes it
// spans without leading blank lines and its line ending, and its line.
func (r *csvReader) next() (fields []string, raw []byte, line int, err error) {
	fields, err = r.cr.Read()
	if err == io.EOF {
		return nil, nil, 0, io.EOF
	}
	end := r.opened + r.cr.InputOffset()
	chunk := r.rec.slice(r.off, end)
	line = r.line
	if err == nil {
		l, _ := r.cr.FieldPos(0)
		line = r.lineBase + l
	} else {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			line = r.lineBase + pe.StartLine
		}
	}
	r.line += bytes.Count(chunk, []byte{'\n'})
	r.off = end
	raw = bytes.TrimLeft(chunk, "\r\n")
	raw = bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte{'\n'}), []byte{'\r'})
	return fields, raw, line, err
}

// readHeader reads the header (or sets the schema's order) and checks it.
func (r *csvReader) readHeader() *problem {
	r.start = 0
	head := make([]byte, 3)
	if n, _ := r.f.ReadAt(head, 0); n == 3 && bytes.Equal(head, bom) {
		r.start = 3
	}
	r.open(r.start, 1)
	if !r.header {
		r.cols = make([]int, len(r.sc.Columns))
		r.keys = make([][]byte, len(r.sc.Columns))
		for i, c := range r.sc.Columns {
			r.cols[i], r.keys[i] = i, schema.JSONKey(c.Name)
			r.names = append(r.names, c.Name)
		}
		r.dataStart, r.dataLine = r.start, 1
		return nil
	}
	fields, _, _, err := r.next()
	if err == io.EOF {
		return &problem{rule: "empty", reason: "the file is empty"}
	}
	if err != nil {
		if r.off >= r.size {
			return &problem{rule: "truncated", reason: fmt.Sprintf("the header does not parse: %v (the file looks truncated)", err)}
		}
		return &problem{rule: "header", reason: fmt.Sprintf("the header does not parse: %v", err)}
	}
	seen := map[string]bool{}
	r.cols, r.keys = make([]int, len(fields)), make([][]byte, len(fields))
	var unknown []string
	for i, h := range fields {
		h = strings.TrimSpace(h)
		if seen[h] {
			return &problem{rule: "header", reason: fmt.Sprintf("wrong header: column %q appears twice", h)}
		}
		seen[h] = true
		c := r.sc.ColumnIndex(h)
		if c < 0 && !r.sc.AdditionalProperties {
			unknown = append(unknown, strconv.Quote(h))
		}
		r.cols[i], r.keys[i] = c, schema.JSONKey(h)
		r.names = append(r.names, h)
	}
	want := r.sc.Names()
	if len(unknown) > 0 {
		hint := "is the first line a header? set header: false if the file has none"
		if len(fields) == 1 {
			for _, d := range []string{";", "\t", "|"} {
				if strings.Contains(fields[0], d) {
					hint = fmt.Sprintf("the header is one column: are fields separated by %q? set delimiter", d)
					break
				}
			}
		}
		return &problem{rule: "header", reason: fmt.Sprintf("wrong header: %s not in the stream's schema, which has %s (%s)",
			strings.Join(unknown, ", "), strings.Join(want, ", "), hint)}
	}
	for _, c := range r.sc.Columns {
		if c.Required && !seen[c.Name] {
			return &problem{rule: "header", reason: fmt.Sprintf("wrong header: required column %q is missing; the header has %s", c.Name, strings.Join(fields, ", "))}
		}
	}
	r.dataStart, r.dataLine = r.off, r.line
	return nil
}

func (r *csvReader) check() *problem {
	if p := r.readHeader(); p != nil {
		return p
	}
	rows, lastFields, lastLine := 0, 0, 0
	for {
		fields, _, line, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.As(err, new(*csv.ParseError)) {
				return &problem{transient: fmt.Errorf("cannot read %s: %w", r.name, err)}
			}
			if r.off >= r.size {
				return &problem{rule: "truncated", reason: fmt.Sprintf("line %d: %v: a quoted field never closes before the end of the file (the file looks truncated, or a quote is unbalanced)", line, err)}
			}
			rows++ // a bad row, quarantined when ingested
			lastFields = len(r.cols)
			continue
		}
		rows++
		lastFields, lastLine = len(fields), line
	}
	if rows == 0 {
		if r.header {
			return &problem{rule: "empty", reason: "the file has a header and no rows"}
		}
		return &problem{rule: "empty", reason: "the file has no rows"}
	}
	if r.final {
		last := make([]byte, 1)
		if _, err := r.f.ReadAt(last, r.size-1); err != nil {
			return &problem{transient: fmt.Errorf("cannot read %s: %w", r.name, err)}
		}
		if last[0] != '\n' {
			return &problem{rule: "truncated", reason: fmt.Sprintf("the file does not end with a line break, so its last row (line %d) may be cut short (the file looks truncated; set final_newline: false if its writer omits the last line break)", lastLine)}
		}
	}
	if lastFields < len(r.cols) {
		return &problem{rule: "truncated", reason: fmt.Sprintf("the last row (line %d) has %d of the %d fields (the file looks truncated)", lastLine, lastFields, len(r.cols))}
	}
	return nil
}

func (r *csvReader) seek(next int64, line int) error {
	if r.cols == nil {
		if p := r.readHeader(); p != nil {
			if p.transient != nil {
				return p.transient
			}
			return fmt.Errorf("BUG: %s passed its check before: %s", r.name, p.reason)
		}
	}
	if next == 0 {
		next, line = r.dataStart, r.dataLine
	}
	r.open(next, line)
	return nil
}

func (r *csvReader) batch(n int) (batch, error) {
	r.rec.discard(r.off)
	var b batch
	var origins []int
	var originals [][]byte
	var ends []int
	r.arena = r.arena[:0]
	for len(ends)+len(b.req.Rejects) < n {
		fields, raw, line, err := r.next()
		if err == io.EOF {
			b.last = true
			break
		}
		origin := func() string { return fmt.Sprintf("%s line %d", r.name, line) }
		if err != nil {
			if !errors.As(err, new(*csv.ParseError)) {
				return batch{}, fmt.Errorf("cannot read %s: %w", r.name, err)
			}
			b.req.Rejects = append(b.req.Rejects, gate.Reject{Rule: "csv", Reason: fmt.Sprintf("%s: %v", origin(), err), Raw: raw, Origin: origin()})
			continue
		}
		if len(fields) != len(r.cols) {
			b.req.Rejects = append(b.req.Rejects, gate.Reject{Rule: "columns",
				Reason: fmt.Sprintf("%s: the row has %d fields, the header has %d", origin(), len(fields), len(r.cols)), Raw: raw, Origin: origin()})
			continue
		}
		r.arena = r.appendRow(r.arena, fields)
		ends = append(ends, len(r.arena))
		origins = append(origins, line)
		originals = append(originals, raw)
	}
	b.req.Records = make([][]byte, len(ends))
	from := 0
	for i, e := range ends {
		b.req.Records[i] = r.arena[from:e:e]
		from = e
	}
	b.req.Origin = func(i int) string { return fmt.Sprintf("%s line %d", r.name, origins[i]) }
	b.req.Original = func(i int) []byte { return originals[i] }
	b.next, b.line = r.off, r.line
	return b, nil
}

// appendRow appends a row as a JSON object of its columns.
func (r *csvReader) appendRow(dst []byte, fields []string) []byte {
	return schema.AppendCSVObject(dst, r.sc, r.cols, r.keys, fields)
}

// recorder keeps the bytes read through it, from absolute offset base, so
// a record's original bytes can be cut out after csv.Reader parsed it.
type recorder struct {
	r    io.Reader
	buf  []byte
	base int64 // the offset of buf[0]
	end  int64 // the offset after buf
}

func (t *recorder) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	t.end += int64(n)
	return n, err
}

func (t *recorder) slice(from, to int64) []byte { return t.buf[from-t.base : to-t.base] }

// discard drops the bytes before offset upTo. Slices cut before stay valid
// only until the next Read: call it when they are no longer used.
func (t *recorder) discard(upTo int64) {
	n := int(upTo - t.base)
	t.buf = slices.Delete(t.buf, 0, n)
	t.base = upTo
}

func (r *csvReader) columns() []string { return r.names }
