package plan

import (
	"slices"
	"strings"

	"github.com/weirhq/weir/internal/schema"
	"github.com/weirhq/weir/internal/sql/parse"
	"github.com/weirhq/weir/internal/stream"
)

// topN plans a flattened Top-N query: PARTITION BY becomes the group
// keys (the window bounds aside), ORDER BY the ranking, and the select
// list reads the ranked row through the returned scope.
func (b *binder) topN(top *topNClause, in *inputScope, p *stream.Plan) (*topScope, error) {
	over := top.call.Over
	if b.window.Kind == stream.Session {
		return nil, errAt(top.call.Pos, "a Top-N over SESSION windows is not supported; use TUMBLE, HOP or CUMULATE")
	}
	var sawStart, sawEnd bool
	for _, e := range over.PartitionBy {
		if id, ok := e.(*parse.Ident); ok && b.window.Kind != stream.NoWindow {
			if slot, _, err := b.resolve(id); err == nil && slot >= len(b.rowCols) {
				sawStart = sawStart || slot == len(b.rowCols)
				sawEnd = sawEnd || slot == len(b.rowCols)+1
				continue
			}
		}
		k, err := compile(e, in)
		if err != nil {
			return nil, err
		}
		if k.Type == nullType {
			return nil, errAt(e.ExprPos(), "cannot PARTITION BY NULL")
		}
		p.Keys = append(p.Keys, k)
		b.keyText = append(b.keyText, parse.FormatExpr(e))
	}
	if b.window.Kind != stream.NoWindow && (!sawStart || !sawEnd) {
		return nil, errAt(top.call.Pos, "a Top-N over %s windows must PARTITION BY window_start, window_end (and its keys): it ranks the rows of each window", b.window.Kind)
	}
	tn := &stream.TopN{N: top.n}
	switch top.call.Name {
	case "rank":
		tn.Rank = stream.Rank
	case "dense_rank":
		tn.Rank = stream.DenseRank
	}
	var order []string
	for _, o := range over.OrderBy {
		e, err := compile(o.Expr, in)
		if err != nil {
			return nil, err
		}
		if e.Type == nullType {
			return nil, errAt(o.Expr.ExprPos(), "cannot ORDER BY NULL")
		}
		tn.Order = append(tn.Order, e)
		tn.Desc = append(tn.Desc, o.Desc)
		s := parse.FormatExpr(o.Expr)
		if o.Desc {
			s += " DESC"
		}
		order = append(order, s)
	}
	p.TopN = tn
	p.Aggregating = true
	p.Aggs = []stream.AggSpec{{Kind: stream.AggTopN, N: top.n, Rank: tn.Rank, Type: schema.Int64}}
	b.topText = strings.Join(order, ", ")
	return &topScope{b: b, in: in, rank: len(b.columns()), used: map[int]bool{}}, nil
}

// topScope resolves names in the select list of a Top-N: the ranked
// row's input columns (and window bounds), and the row number.
type topScope struct {
	b    *binder
	in   *inputScope
	rank int          // the row number's slot
	used map[int]bool // input columns the select list reads
}

func (s *topScope) column(id *parse.Ident) (int, schema.Type, error) {
	if len(id.Parts) == 1 && id.Parts[0] == rowNumber {
		return s.rank, schema.Int64, nil
	}
	slot, typ, err := s.in.column(id)
	if err == nil && slot < len(s.b.rowCols) {
		s.used[slot] = true
	}
	return slot, typ, err
}

func (s *topScope) grouped(e parse.Expr) (int, schema.Type, bool, error) {
	return 0, 0, false, nil
}

// keep sets the Top-N's kept columns to those the select list read.
func (s *topScope) keep(p *stream.Plan) {
	for slot := range s.used {
		p.TopN.Keep = append(p.TopN.Keep, slot)
	}
	slices.Sort(p.TopN.Keep)
}
