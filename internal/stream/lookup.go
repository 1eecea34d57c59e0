package stream

import (
	"strconv"
	"strings"
	"sync"

	"github.com/weirhq/weir/internal/schema"
)

// LookupTable is a reference table a view joins its records with by key
// (a file, a Postgres table, a lake table): see Lookup. Implementations
// refresh it in the background; Current is safe for concurrent use.
type LookupTable interface {
	// Name is the table's name.
	Name() string
	// Columns are the table's columns (fixed for the table's life).
	Columns() []schema.Column
	// Current is the table as of now. A snapshot never changes; a refresh
	// makes a new one.
	Current() *TableSnapshot
}

// TableSnapshot is one version of a lookup table: its rows, and indexes
// over them built when first asked for.
type TableSnapshot struct {
	Version uint64
	Rows    [][]schema.Value

	mu      sync.Mutex
	indexes map[string]map[string][]int32
}

// Index returns the rows by the encoded values of columns cols (an
// encoded key as schema.EncodeRow writes it for those columns' types;
// rows with a NULL among them are left out: NULL matches nothing).
func (s *TableSnapshot) Index(cols []int, types []schema.Type) map[string][]int32 {
	var name strings.Builder
	for _, c := range cols {
		name.WriteString(strconv.Itoa(c))
		name.WriteByte(',')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if idx, ok := s.indexes[name.String()]; ok {
		return idx
	}
	keyCols := make([]schema.Column, len(cols))
	for i, t := range types {
		keyCols[i] = schema.Column{Type: t}
	}
	idx := make(map[string][]int32, len(s.Rows))
	vals := make([]schema.Value, len(cols))
	var buf []byte
rows:
	for r, row := range s.Rows {
		for i, c := range cols {
			if row[c].Null {
				continue rows
			}
			vals[i] = row[c]
			if types[i] == schema.Float64 && vals[i].Float == 0 {
				vals[i].Float = 0 // -0 = 0
			}
		}
		buf = schema.EncodeRow(keyCols, buf[:0], vals)
		idx[string(buf)] = append(idx[string(buf)], int32(r))
	}
	if s.indexes == nil {
		s.indexes = map[string]map[string][]int32{}
	}
	s.indexes[name.String()] = idx
	return idx
}

// Lookup makes a plan join each record of its input with the rows of a
// reference table whose TableCols equal the record's Key: the joined row
// is the input's columns, then the table's (then window_start and
// window_end when windowed), and the rest of the plan evaluates it. The
// table is read as it is when the record is processed (processing time):
// a refresh changes what later records join, never what was emitted. A
// replay after a crash (at most a checkpoint interval of input) joins the
// table as it is then.
type Lookup struct {
	Kind  JoinKind // LeftJoin: a record with no match is kept, the table's columns null
	Table LookupTable
	// Key are expressions over the input's columns; TableCols the table
	// columns (indexes) they equal, of the same types.
	Key       []Expr
	TableCols []int
	// Filter is the WHERE conditions on the input's columns alone,
	// checked before the lookup; On the rest of the ON condition, checked
	// for each row of the table with an equal key. nil: true.
	Filter, On *Expr
	Name       string // what the view calls the table
}

// lookupState is a task's view of its lookup table: the snapshot of the
// current round and its index.
type lookupState struct {
	snap    *TableSnapshot
	index   map[string][]int32
	keyCols []schema.Column
	types   []schema.Type
	vals    []schema.Value
	buf     []byte
	ncol    int // the table's columns
}

// refreshLookup takes the table's current snapshot (once per round).
func (t *Task) refreshLookup() {
	lk := t.plan.Lookup
	ls := &t.table
	if ls.keyCols == nil {
		for _, k := range lk.Key {
			ls.keyCols = append(ls.keyCols, schema.Column{Type: k.Type})
			ls.types = append(ls.types, k.Type)
		}
		ls.vals = make([]schema.Value, len(lk.Key))
		ls.ncol = len(lk.Table.Columns())
	}
	if s := lk.Table.Current(); s != ls.snap {
		ls.snap, ls.index = s, s.Index(lk.TableCols, ls.types)
	}
}

// lookupRecord joins the decoded record in t.row with the table and
// applies the plan to each joined row.
func (t *Task) lookupRecord(ts int64, tsNull bool) {
	lk := t.plan.Lookup
	if lk.Filter != nil && !True(lk.Filter.Eval(t.row)) {
		return
	}
	ls := &t.table
	nin, ncol := len(t.plan.Input.Columns), ls.ncol
	matched := false
	var rows []int32
	for i := range lk.Key {
		v := lk.Key[i].Eval(t.row)
		if v.Null {
			rows = nil
			break
		}
		ls.vals[i] = v
		if i == len(lk.Key)-1 {
			ls.buf = schema.EncodeRow(ls.keyCols, ls.buf[:0], ls.vals)
			rows = ls.index[string(ls.buf)]
		}
	}
	for _, r := range rows {
		copy(t.row[nin:nin+ncol], ls.snap.Rows[r])
		if lk.On != nil && !True(lk.On.Eval(t.row)) {
			continue
		}
		matched = true
		t.applyJoined(ts, tsNull)
	}
	if !matched && lk.Kind == LeftJoin {
		for i := nin; i < nin+ncol; i++ {
			t.row[i] = schema.Value{Null: true}
		}
		t.applyJoined(ts, tsNull)
	}
}

// applyJoined filters and applies one joined row of a lookup.
func (t *Task) applyJoined(ts int64, tsNull bool) {
	if t.plan.Filter != nil && !True(t.plan.Filter.Eval(t.row)) {
		return
	}
	t.apply(t.row, ts, tsNull, nil)
}
