package inbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/valyala/fastjson"
)

// ndjsonReader reads one JSON object per line; the gate decodes each.
type ndjsonReader struct {
	f     *os.File
	name  string
	size  int64
	final bool // the file must end with a line break

	br   *bufio.Reader
	off  int64
	line int
	buf  []byte
}

func newNDJSON(f *os.File, name string, size int64, final bool) *ndjsonReader {
	return &ndjsonReader{f: f, name: name, size: size, final: final}
}

func (r *ndjsonReader) check() *problem {
	if r.size == 0 {
		return &problem{rule: "empty", reason: "the file is empty"}
	}
	// The last line, and whether anything but blanks comes before it.
	tail := int64(min(r.size, 1<<20))
	buf := make([]byte, tail)
	if _, err := r.f.ReadAt(buf, r.size-tail); err != nil && !errors.Is(err, io.EOF) {
		return &problem{transient: fmt.Errorf("cannot read %s: %w", r.name, err)}
	}
	if len(bytes.TrimSpace(bytes.TrimPrefix(buf, bom))) == 0 && r.size == tail {
		return &problem{rule: "empty", reason: "the file holds no records, only blanks"}
	}
	if buf[len(buf)-1] != '\n' && r.final {
		return &problem{rule: "truncated", reason: "the file does not end with a line break, so its last line may be cut short (the file looks truncated; set final_newline: false if its writer omits the last line break)"}
	}
	if buf[len(buf)-1] != '\n' {
		last := buf[bytes.LastIndexByte(buf, '\n')+1:]
		last = bytes.TrimSpace(bytes.TrimPrefix(last, bom))
		if len(last) > 0 && fastjson.ValidateBytes(last) != nil {
			return &problem{rule: "truncated", reason: fmt.Sprintf("the last line has no line end and is not a whole JSON value (the file looks truncated): %.60q", last)}
		}
	}
	return nil
}

func (r *ndjsonReader) seek(next int64, line int) error {
	if line == 0 {
		line = 1
	}
	r.br = bufio.NewReaderSize(io.NewSectionReader(r.f, next, r.size-next), 256<<10)
	r.off, r.line = next, line
	return nil
}

func (r *ndjsonReader) batch(n int) (batch, error) {
	var b batch
	r.buf = r.buf[:0]
	var ends, lines []int
	for len(ends) < n {
		start, lineStart := len(r.buf), r.off
		chunk, err := r.br.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) { // a line longer than the buffer
			r.buf = append(r.buf, chunk...)
			chunk, err = r.br.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return batch{}, fmt.Errorf("cannot read %s: %w", r.name, err)
		}
		r.buf = append(r.buf, chunk...)
		r.off += int64(len(r.buf) - start)
		line := r.line
		r.line++
		rec := bytes.TrimRight(r.buf[start:], "\r\n")
		if lineStart == 0 {
			rec = bytes.TrimPrefix(rec, bom)
		}
		if len(bytes.TrimSpace(rec)) == 0 {
			r.buf = r.buf[:start]
		} else {
			r.buf = append(r.buf[:start], rec...)
			ends = append(ends, len(r.buf))
			lines = append(lines, line)
		}
		if err != nil { // io.EOF
			b.last = true
			break
		}
	}
	b.req.Records = make([][]byte, len(ends))
	from := 0
	for i, e := range ends {
		b.req.Records[i] = r.buf[from:e:e]
		from = e
	}
	b.req.Origin = func(i int) string { return fmt.Sprintf("%s line %d", r.name, lines[i]) }
	b.next, b.line = r.off, r.line
	return b, nil
}

// jsonReader reads a .json file: one object, or an array of objects.
// The file is parsed whole (up to maxJSONFile bytes).
type jsonReader struct {
	f    *os.File
	name string
	size int64

	elems [][]byte
	next  int
}

const maxJSONFile = 256 << 20

func newJSON(f *os.File, name string, size int64) (*jsonReader, error) {
	if size > maxJSONFile {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit for a JSON file (write NDJSON, one object per line, named .ndjson)", name, size, maxJSONFile)
	}
	return &jsonReader{f: f, name: name, size: size}, nil
}

func (r *jsonReader) parse() *problem {
	if r.elems != nil {
		return nil
	}
	buf := make([]byte, r.size)
	if _, err := r.f.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return &problem{transient: fmt.Errorf("cannot read %s: %w", r.name, err)}
	}
	body := bytes.TrimSpace(bytes.TrimPrefix(buf, bom))
	if len(body) == 0 {
		return &problem{rule: "empty", reason: "the file is empty"}
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(body)
	if err != nil {
		return &problem{rule: "truncated", reason: fmt.Sprintf("the file is not one JSON value: %v (it looks truncated; a file of one object per line should be named .ndjson)", err)}
	}
	if v.Type() != fastjson.TypeArray {
		r.elems = [][]byte{body}
		return nil
	}
	arr := v.GetArray()
	if len(arr) == 0 {
		return &problem{rule: "empty", reason: "the file is an empty array"}
	}
	r.elems = make([][]byte, len(arr))
	for i, el := range arr {
		r.elems[i] = el.MarshalTo(nil)
	}
	return nil
}

func (r *jsonReader) check() *problem { return r.parse() }

func (r *jsonReader) seek(next int64, _ int) error {
	if p := r.parse(); p != nil {
		if p.transient != nil {
			return p.transient
		}
		return fmt.Errorf("BUG: %s passed its check before: %s", r.name, p.reason)
	}
	r.next = int(next)
	return nil
}

func (r *jsonReader) batch(n int) (batch, error) {
	end := min(r.next+n, len(r.elems))
	first := r.next
	b := batch{next: int64(end), last: end == len(r.elems)}
	b.req.Records = r.elems[first:end]
	b.req.Origin = func(i int) string { return fmt.Sprintf("%s element %d", r.name, first+i) }
	r.next = end
	return b, nil
}

func (r *ndjsonReader) columns() []string { return nil }

func (r *jsonReader) columns() []string { return nil }
