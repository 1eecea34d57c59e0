package lake

import (
	"fmt"
	"slices"

	"github.com/weirhq/weir/internal/schema"
)

// buffer holds decoded rows per event hour, column by column, until a commit.
type buffer struct {
	cols     []schema.Column // the table's columns
	eventCol int
	byHour   map[int32]*columns
	rows     int
	bytes    int64
	vals     []schema.Value
	remap    map[*schema.Column][]int // per foreign schema: table column -> its column, or -1
	spare    []*columns               // emptied by reset, capacity kept for the next hours
}

// maxSpare bounds the emptied hours kept for reuse: a roll usually spans
// one or two event hours.
const maxSpare = 2

// columns is one hour's rows, one vector per column.
type columns struct {
	n    int
	cols []colVec
}

type colVec struct {
	nulls  []bool // nil while no value has been null
	ints   []int64
	floats []float64
	strs   []byte   // string arena
	ends   []uint32 // end of each string in strs
}

func newBuffer(cols []schema.Column, eventCol int) *buffer {
	return &buffer{cols: cols, eventCol: eventCol, byHour: map[int32]*columns{}, remap: map[*schema.Column][]int{}}
}

// reset empties the buffer. It keeps up to maxSpare hours' vectors, so the
// next roll fills them without growing them again from nothing.
func (b *buffer) reset() {
	for _, c := range b.byHour {
		if len(b.spare) < maxSpare {
			c.empty()
			b.spare = append(b.spare, c)
		}
	}
	clear(b.byHour)
	b.rows, b.bytes = 0, 0
}

func (c *columns) empty() {
	c.n = 0
	for i := range c.cols {
		cv := &c.cols[i]
		cv.nulls = nil
		cv.ints, cv.floats, cv.strs, cv.ends = cv.ints[:0], cv.floats[:0], cv.strs[:0], cv.ends[:0]
	}
}

func (b *buffer) hours() []int32 {
	hs := make([]int32, 0, len(b.byHour))
	for h := range b.byHour {
		hs = append(hs, h)
	}
	slices.Sort(hs)
	return hs
}

// add decodes one record written under cols and buffers it.
func (b *buffer) add(cols []schema.Column, rec []byte) error {
	vals, err := schema.DecodeRow(cols, rec, b.vals)
	b.vals = vals
	if err != nil {
		return err
	}
	if len(cols) > 0 && len(b.cols) > 0 && &cols[0] != &b.cols[0] {
		vals, err = b.project(cols, vals)
		if err != nil {
			return err
		}
	}
	ts := vals[b.eventCol]
	if ts.Null {
		return fmt.Errorf("BUG: event-time column %q is null in a stored row", b.cols[b.eventCol].Name)
	}
	hour := hourOf(ts.Int)
	c := b.byHour[hour]
	if c == nil {
		if n := len(b.spare); n > 0 {
			c, b.spare = b.spare[n-1], b.spare[:n-1]
		} else {
			c = &columns{cols: make([]colVec, len(b.cols))}
		}
		b.byHour[hour] = c
	}
	for i := range b.cols {
		v := &vals[i]
		cv := &c.cols[i]
		if v.Null && cv.nulls == nil {
			cv.nulls = make([]bool, c.n, max(c.n*2, 64))
		}
		if cv.nulls != nil {
			cv.nulls = append(cv.nulls, v.Null)
		}
		switch b.cols[i].Type {
		case schema.String:
			cv.strs = append(cv.strs, v.Bytes...)
			cv.ends = append(cv.ends, uint32(len(cv.strs)))
			b.bytes += int64(len(v.Bytes)) + 4
		case schema.Float64:
			cv.floats = append(cv.floats, v.Float)
			b.bytes += 8
		default:
			cv.ints = append(cv.ints, v.Int)
			b.bytes += 8
		}
	}
	c.n++
	b.rows++
	return nil
}

// project maps a row of an older schema version onto the table's columns by
// name; columns the older version lacks are null.
func (b *buffer) project(cols []schema.Column, vals []schema.Value) ([]schema.Value, error) {
	m, ok := b.remap[&cols[0]]
	if !ok {
		m = make([]int, len(b.cols))
		for i, c := range b.cols {
			m[i] = -1
			for j, o := range cols {
				if o.Name == c.Name {
					if o.Type != c.Type {
						return nil, fmt.Errorf("column %q changed type from %s to %s between schema versions", c.Name, o.Type, c.Type)
					}
					m[i] = j
				}
			}
		}
		b.remap[&cols[0]] = m
	}
	out := make([]schema.Value, len(b.cols))
	for i, j := range m {
		if j < 0 {
			out[i] = schema.Value{Null: true}
		} else {
			out[i] = vals[j]
		}
	}
	return out, nil
}

func (cv *colVec) isNull(i int) bool { return cv.nulls != nil && cv.nulls[i] }

func (cv *colVec) str(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = cv.ends[i-1]
	}
	return cv.strs[start:cv.ends[i]]
}
