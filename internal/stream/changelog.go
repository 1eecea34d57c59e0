package stream

import (
	"github.com/weirhq/weir/internal/schema"
)

// A changelog input is an upsert view's output (Input.Changelog): each
// record is the new row of a key, or its deletion. A plan over it is a
// continuous aggregate whose aggregates can take a value back
// (Retractor): the task keeps each key's current row, and a record first
// takes the key's previous row out of its group, then adds the new one.
// Plan.RowCount counts a group's rows; a group whose last row left is
// deleted from the output.
//
// The rows kept are state entries of their own (prefix u/), checkpointed
// like groups; a changelog is one partition, so a replay after a crash
// sees the records in the same order and rebuilds the same state.

// Retractor is an accumulator that can take back a value it was given.
type Retractor interface {
	Retract(v schema.Value, ts int64)
}

// Retractable reports whether an aggregate can read a changelog.
func Retractable(k AggKind) bool {
	switch k {
	case AggCount, AggSum, AggAvg, AggTopN:
		return true
	}
	return false
}

func (a *countAcc) Retract(v schema.Value, _ int64) {
	if a.star || !v.Null {
		a.n--
	}
}

func (a *sumIntAcc) Retract(v schema.Value, _ int64) {
	if !v.Null {
		a.n--
		a.sum -= v.Int
	}
}

func (a *sumFloatAcc) Retract(v schema.Value, _ int64) {
	if !v.Null {
		a.n--
		a.sum -= v.Float
		if a.n == 0 {
			a.sum = 0 // no rounding residue once every value left
		}
	}
}

func (a *avgAcc) Retract(v schema.Value, _ int64) {
	if v.Null {
		return
	}
	a.n--
	if a.float {
		a.fsum -= v.Float
	} else {
		a.isum -= v.Int
	}
	if a.n == 0 {
		a.fsum, a.isum = 0, 0
	}
}

func (t *Task) upStateKey() string { return t.opts.StatePrefix + "u/" }

// changelogRecord applies one record of a changelog input, decoded into
// t.row: the key's previous row leaves its group, the new one (unless the
// record deletes the key) joins its group.
func (t *Task) changelogRecord() {
	in := &t.plan.Input
	n := len(in.Columns)
	key := t.row[n-2].Bytes
	deleted := t.row[n-1].Int != 0
	if prev, ok := t.upRows[string(key)]; ok {
		vals, err := schema.DecodeRow(in.Columns, prev.ur, t.prevRow)
		if err != nil {
			panic("BUG: a kept changelog row does not decode: " + err.Error())
		}
		t.prevRow = vals
		if !deleted && t.plan.TopN != nil && t.topReplace(vals) {
			prev.ur = schema.EncodeRow(in.Columns, prev.ur[:0], t.row[:n])
			t.markDirty(prev)
			return
		}
		t.savedRow = append(t.savedRow[:0], t.row[:n]...)
		saved := t.savedRow
		copy(t.row, vals)
		if t.plan.Filter == nil || True(t.plan.Filter.Eval(t.row)) {
			t.retracting = true
			t.apply(t.row, 0, true, nil)
			t.retracting = false
		}
		copy(t.row, saved)
		if deleted {
			delete(t.upRows, string(key))
			prev.gone = true
			t.forget(prev)
		} else {
			prev.ur = schema.EncodeRow(in.Columns, prev.ur[:0], t.row[:n])
			t.markDirty(prev)
		}
	} else if !deleted {
		g := &group{key: string(key), hidx: -1, ur: schema.EncodeRow(in.Columns, nil, t.row[:n])}
		t.upRows[g.key] = g
		t.markDirty(g)
	}
	if !deleted && (t.plan.Filter == nil || True(t.plan.Filter.Eval(t.row))) {
		t.apply(t.row, 0, true, nil)
	}
}

// topReplace applies an update of a row that keeps its place in a Top-N
// over a changelog (same group, same sort key: in q6 a higher bid on an
// auction) by replacing its entry in place, so that only its own rank
// is rewritten, not every rank after it. prev is the row's previous
// values, t.row the new ones. It reports whether it applied the update.
func (t *Task) topReplace(prev Row) bool {
	plan := t.plan
	keep := func(row Row) bool { return plan.Filter == nil || True(plan.Filter.Eval(row)) }
	if !keep(t.row) {
		return false
	}
	scratch := append(t.topScratch[:0], t.row...)
	copy(scratch, prev)
	t.topScratch = scratch
	if !keep(scratch) {
		return false
	}
	// The sort keys first: an update that moves the row (a leaderboard's)
	// fails here, before any group lookup.
	var oldK, newK int
	t.topOld, oldK = t.topEntry(t.topOld[:0], scratch)
	t.topBuf, newK = t.topEntry(t.topBuf[:0], t.row)
	if oldK != newK || string(t.topOld[:oldK]) != string(t.topBuf[:newK]) {
		return false
	}
	groupKey := func(row Row) {
		for i := range plan.Keys {
			t.keyVals[i] = plan.Keys[i].Eval(row)
		}
		t.groupKey(Span{}, false)
	}
	groupKey(scratch)
	g := t.groups[string(t.keyBuf)]
	if g == nil {
		return false
	}
	groupKey(t.row)
	if string(t.keyBuf) != g.key {
		return false
	}
	ok, changed := g.accs[0].(*topAcc).replace(t.topBuf, newK)
	if changed {
		g.changed = true
		t.markDirty(g)
	}
	return ok
}

// retract takes the current row's values back out of g.
func (t *Task) retractFrom(g *group, ts int64) {
	if t.plan.TopN != nil {
		t.topRows--
	}
	for i := range g.accs {
		g.accs[i].(Retractor).Retract(t.args[i], ts)
	}
	g.changed = true
	t.markDirty(g)
}

// emptied reports whether g's last row left (a changelog input's group).
func (t *Task) emptied(g *group) bool {
	return t.plan.RowCount >= 0 && t.plan.Input.Changelog && g.accs[t.plan.RowCount].Result().Int == 0
}
