package stream

// Parallel views. A view with Plan.Parallelism > 1 runs as a Job of
// several tasks instead of one:
//
//   - An aggregating view runs in two stages. Stage 1 has one *partial*
//     task per share of the input partitions (partition p goes to task
//     p mod N). It decodes, filters and pre-aggregates its records per
//     window and key, and at every commit writes what it aggregated since
//     the last one into the repartition stream (view/<v>__repart, N
//     partitions, by a hash of the group key), followed by a *marker* in
//     every partition: the task's watermark and whether all its partitions
//     are idle. The partial task keeps no state between commits: its
//     commit is those records plus its input offsets, in one log write.
//     Stage 2 has one *merge* task per repartition partition: a Task whose
//     input is that partition. It merges partial aggregates into its
//     groups, and its watermark is the global rule applied to the markers
//     (the minimum over tasks that are not idle; the maximum when all
//     are), so windows fire exactly as one task would fire them.
//   - A stateless view runs as N *split* tasks, each over its share of the
//     partitions, all writing the one output partition.
//
// Late records. A record is on time at stage 2 if its windows are open at
// stage 2's watermark when it gets there. A partial task cannot see that
// watermark, but it knows a bound: stage 2 reads a task's records after
// that task's previous marker M, so its watermark is then at most M
// (unless the task was idle at M: then it did not hold stage 2 back). So a
// record whose windows are all open at M, from a task that was not idle
// at M, joins a partial aggregate; any other record goes to stage 2 whole
// (a *raw* record), and stage 2 applies the late-data policy to it as a
// single task would. Raw records are rare: they need disorder beyond the
// bound within one task's partitions, or a task waking from idleness.
//
// Exactly once. Each task commits on its own, atomically. A partial task
// resumes from its offsets with its last marker; a merge task checkpoints
// and replays its repartition partition like any task (with its markers
// in its position). The repartition stream is trimmed below the merge
// tasks' checkpoints.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"

	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/schema"
)

// StageKind is the part a task plays in a parallel view.
type StageKind uint8

const (
	// StageWhole is a view's only task.
	StageWhole StageKind = iota
	// StagePartial pre-aggregates a share of the input partitions into the
	// repartition stream.
	StagePartial
	// StageMerge merges one repartition partition's partial aggregates and
	// emits the view's rows.
	StageMerge
	// StageSplit runs a stateless view over a share of the partitions.
	StageSplit
)

// Stage places a task in a parallel view (see parallel.go).
type Stage struct {
	Kind  StageKind
	Index int // this task's number: among the first stage's, or the merge tasks'
	// Count is the number of repartition partitions (= merge tasks); 0
	// without a second stage.
	Count int
	// Tasks is the number of first-stage (partial or split) tasks.
	Tasks int
	// Repart is the repartition stream, Count partitions.
	Repart string
	// Base is the view's state prefix: a partial task reads the other
	// partial tasks' positions under it (see Task.wakeFloor).
	Base string
	// Held, for a partial task, reports whether stage 2 is too far behind
	// for it to read more input (the repartition stream's backlog is past
	// maxRepartBacklog): the input's backlog then grows instead, and the
	// gate's backpressure applies.
	Held func() bool
}

// maxRepartBacklog is how many repartition records the merge tasks may
// have still to read before the partial tasks wait.
const maxRepartBacklog = 200_000

// Records of the repartition stream: a kind byte, then
const (
	repPartial byte = iota + 1 // uvarint key length, group state key, group state (encodeGroup)
	repRaw                     // varint watermark it was judged at, the plan's row (RowColumns, schema.EncodeRow)
	repMark                    // uvarint task, varint watermark, idle byte, uvarint n, n uvarint input offsets
)

// RepartStream is the repartition stream of a parallel view.
func RepartStream(output string) string { return output + "__repart" }

// ParallelError says why a plan cannot run on more than one task, or nil.
func ParallelError(p *Plan) error {
	switch {
	case p.Join != nil:
		return errors.New("a join")
	case p.Union != nil:
		return errors.New("UNION ALL")
	case p.Input.Changelog:
		return errors.New("a view over an upsert view")
	case p.TopN != nil:
		return errors.New("Top-N")
	case p.Window.Kind == Session:
		return errors.New("SESSION windows")
	case p.Lookup != nil && p.Aggregating:
		return errors.New("an aggregate over a lookup join")
	}
	return nil
}

// Runner is what runs a view: a Task, or a Job of several.
type Runner interface {
	Run(ctx context.Context) error
	RunBounded(ctx context.Context, ends []int64) error
	Stats() Stats
}

// NewRunner returns the runner of a plan: one task, or a Job when
// Plan.Parallelism asks for more and the plan allows it.
func NewRunner(plan *Plan, opts Options) Runner {
	if plan.Parallelism <= 1 || ParallelError(plan) != nil {
		return NewTask(plan, opts)
	}
	return NewJob(plan, opts)
}

// Job runs a parallel view's tasks (see parallel.go).
type Job struct {
	plan   *Plan
	opts   Options
	first  []*Task // partial or split tasks, by index
	merges []*Task
}

// NewJob prepares the tasks of a parallel view: min(Parallelism, input
// partitions) over the input, and for an aggregating view Parallelism
// merge tasks. Task state lives under StatePrefix + "p<i>/" and "m<j>/".
func NewJob(plan *Plan, opts Options) *Job {
	j := &Job{plan: plan, opts: opts}
	n := plan.Parallelism
	first := min(n, plan.Input.Partitions)
	kind := StageSplit
	if plan.Aggregating {
		kind = StagePartial
	}
	repart := RepartStream(opts.OutputStream)
	for i := range first {
		o := opts
		o.StatePrefix = fmt.Sprintf("%sp%d/", opts.StatePrefix, i)
		o.Stage = Stage{Kind: kind, Index: i, Tasks: first}
		if kind == StagePartial {
			o.Stage.Count, o.Stage.Repart, o.Stage.Base, o.Stage.Held = n, repart, opts.StatePrefix, j.held
		}
		j.first = append(j.first, NewTask(plan, o))
	}
	if kind == StagePartial {
		for i := range n {
			o := opts
			o.StatePrefix = fmt.Sprintf("%sm%d/", opts.StatePrefix, i)
			o.Stage = Stage{Kind: StageMerge, Index: i, Count: n, Tasks: first, Repart: repart}
			j.merges = append(j.merges, NewTask(plan, o))
		}
	}
	return j
}

// Repartitions reports the repartition stream and its partition count, or
// "" for a job without one.
func (j *Job) Repartitions() (string, int) {
	if len(j.merges) == 0 {
		return "", 0
	}
	return RepartStream(j.opts.OutputStream), len(j.merges)
}

func (j *Job) tasks() []*Task { return append(slices.Clone(j.first), j.merges...) }

// Run runs every task until ctx ends or one fails; then the others stop
// (each commits what it processed) and Run returns the first error.
func (j *Job) Run(ctx context.Context) error {
	return j.run(ctx, func(t *Task, ctx context.Context) error { return t.Run(ctx) })
}

// RunBounded runs the job over a bounded input (see Task.RunBounded):
// ends are per input partition.
func (j *Job) RunBounded(ctx context.Context, ends []int64) error {
	return j.run(ctx, func(t *Task, ctx context.Context) error {
		if t.opts.Stage.Kind == StageMerge {
			return t.RunBounded(ctx, []int64{math.MaxInt64}) // ends when every partial task did
		}
		own := make([]int64, len(t.vpPart))
		for vp, p := range t.vpPart {
			own[vp] = ends[p]
		}
		return t.RunBounded(ctx, own)
	})
}

// held reports whether the merge tasks have more than maxRepartBacklog
// repartition records to read.
func (j *Job) held() bool { return j.backlog() > maxRepartBacklog }

// backlog is how many repartition records the merge tasks have to read.
func (j *Job) backlog() int64 {
	backlog := int64(0)
	for i, t := range j.merges {
		end, err := j.opts.Log.End(RepartStream(j.opts.OutputStream), i)
		if err != nil {
			return 0
		}
		if offs := t.Stats().Offsets; len(offs) == 1 {
			backlog += end - offs[0]
		}
	}
	return backlog
}

// prepare creates the repartition stream.
func (j *Job) prepare() error {
	if name, n := j.Repartitions(); name != "" {
		return j.opts.Log.EnsureStream(name, n)
	}
	return nil
}

func (j *Job) run(ctx context.Context, run func(*Task, context.Context) error) error {
	if err := j.prepare(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tasks := j.tasks()
	errs := make(chan error, len(tasks))
	for _, t := range tasks {
		go func() {
			err := run(t, ctx)
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	stop := make(chan struct{})
	go j.observeLoop(stop)
	var first error
	for range tasks {
		if err := <-errs; err != nil && (first == nil || errors.Is(first, context.Canceled)) {
			first = err
		}
	}
	close(stop)
	j.observe()
	return first
}

// observeLoop sets the view's gauges from the tasks' combined stats; the
// tasks themselves only add to counters.
func (j *Job) observeLoop(stop chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			j.observe()
		}
	}
}

func (j *Job) observe() {
	m := j.opts.Metrics
	if m == nil {
		return
	}
	st := j.Stats()
	v := j.plan.Name
	m.StateGroups.WithLabelValues(v).Set(float64(st.Groups))
	if st.WatermarkMicros != math.MinInt64 {
		m.Watermark.WithLabelValues(v).Set(float64(st.WatermarkMicros) / 1e6)
	}
	lag := st.Backlog
	for p, off := range st.Offsets {
		if end, err := j.opts.Log.End(j.plan.Input.Stream, p); err == nil {
			lag += end - off
		}
	}
	m.Lag.WithLabelValues(v).Set(float64(lag))
}

// Stats combines the tasks' progress: input offsets and checkpoints per
// input partition from the tasks reading them, counts summed, the
// watermark by the global rule over the last stage's tasks.
func (j *Job) Stats() Stats {
	parts := j.plan.Input.Partitions
	st := Stats{Offsets: make([]int64, parts), Checkpoint: make([]int64, parts), Live: true}
	for _, t := range j.first {
		s := t.Stats()
		for vp, p := range t.vpPart {
			if vp < len(s.Offsets) {
				st.Offsets[p] = s.Offsets[vp]
			}
			if vp < len(s.Checkpoint) {
				st.Checkpoint[p] = s.Checkpoint[vp]
			}
		}
		st.Counts.In += s.Counts.In
		st.Live = st.Live && s.Live
		if len(j.merges) == 0 {
			st.Counts.addOutput(s.Counts)
		}
	}
	last := j.first
	if len(j.merges) > 0 {
		last = j.merges
	}
	r := newWatermarkRule()
	st.OutFloor, st.Idle = math.MaxInt64, true
	for _, t := range last {
		s := t.Stats()
		if len(j.merges) > 0 {
			st.Counts.addOutput(s.Counts)
			st.Live = st.Live && s.Live
		}
		st.Groups += s.Groups
		st.OutFloor = min(st.OutFloor, s.OutFloor)
		st.Idle = st.Idle && s.Idle
		// Every merge task computes the one global watermark, some later
		// than others: the job is at the slowest's, idle or not. A split
		// task counts as idle only while its partitions have nothing new
		// (another may have read records of the same write already).
		idle := s.Idle && !j.unread(t, s)
		r.add(s.WatermarkMicros, len(j.merges) > 0 || !idle)
		if len(j.merges) == 0 {
			st.Idle = st.Idle && idle
		}
	}
	st.WatermarkMicros = r.watermark()
	st.Backlog = j.backlog()
	if st.WatermarkMicros != math.MinInt64 && st.WatermarkMicros != math.MaxInt64 {
		st.Watermark = time.UnixMicro(st.WatermarkMicros).UTC()
	}
	return st
}

// unread reports whether a first-stage task has input past its committed
// offsets s.Offsets.
func (j *Job) unread(t *Task, s Stats) bool {
	for vp, p := range t.vpPart {
		end, err := j.opts.Log.End(j.plan.Input.Stream, p)
		if err != nil || vp >= len(s.Offsets) || end > s.Offsets[vp] {
			return true
		}
	}
	return false
}

// addOutput sums o's output and late counts into c.
func (c *Counts) addOutput(o Counts) {
	c.Out += o.Out
	c.LateDropped += o.LateDropped
	c.LateKept += o.LateKept
	c.LateUpdated += o.LateUpdated
}

// stageParts returns the input partitions a task reads: all of them, or
// for the first stage of a parallel view its share.
func stageParts(s Stage, partitions int) []int {
	var out []int
	for p := range partitions {
		if (s.Kind != StagePartial && s.Kind != StageSplit) || p%s.Tasks == s.Index {
			out = append(out, p)
		}
	}
	return out
}

// repartOf is the repartition partition of a group key's hash (of its
// encoded values, without the window: a record's windows all go to one
// partition).
func (t *Task) repartOf(hash uint64) int { return int(hash % uint64(t.opts.Stage.Count)) }

// partialApply is apply for a partial task: fold the row into this
// commit's partial aggregates, or pass it on whole when stage 2 might
// find it late.
func (t *Task) partialApply(row Row, ts int64, tsNull bool) {
	plan := t.plan
	for i := range plan.Keys {
		t.keyVals[i] = plan.Keys[i].Eval(row)
	}
	windowed := plan.Window.Kind != NoWindow
	if tsNull {
		if windowed {
			t.sendRaw(row)
			return
		}
		ts = math.MinInt64
	}
	for i := range plan.Aggs {
		if a := plan.Aggs[i].Arg; a != nil {
			t.args[i] = a.Eval(row)
		}
	}
	if !windowed {
		t.partialAdd(t.partialGroup(Span{}, false), ts)
		return
	}
	t.spans = plan.Window.Assign(t.spans[:0], ts)
	if t.markIdle {
		t.sendRaw(row)
		return
	}
	judge := max(t.wm, t.wakeWm)
	for _, s := range t.spans {
		if s.End+plan.AllowedLateness <= judge {
			t.sendRaw(row)
			return
		}
	}
	for _, s := range t.spans {
		t.partialAdd(t.partialGroup(s, true), ts)
	}
}

func (t *Task) partialAdd(g *group, ts int64) {
	for i := range g.accs {
		g.accs[i].Add(t.args[i], ts)
	}
}

// partialGroup finds or creates this commit's partial group of the
// current key values in span.
func (t *Task) partialGroup(s Span, windowed bool) *group {
	t.groupKey(s, windowed)
	if g, ok := t.partials[string(t.keyBuf)]; ok {
		return g
	}
	g := t.newGroup(string(t.keyBuf), s)
	t.partials[g.key] = g
	return g
}

// sendRaw passes the row to stage 2 whole, to the partition of its key,
// with the watermark it was judged late at.
func (t *Task) sendRaw(row Row) {
	t.keyBuf = schema.EncodeRow(t.keyCols, t.keyBuf[:0], t.keyVals)
	j := t.repartOf(xxhash.Sum64(t.keyBuf))
	cols := t.plan.RowColumns()
	t.recBuf = binary.AppendVarint(append(t.recBuf[:0], repRaw), t.wm)
	t.recBuf = schema.EncodeRow(cols, t.recBuf, row[:len(cols)])
	t.addRepart(j, t.recBuf)
}

func (t *Task) addRepart(j int, rec []byte) {
	t.rep[j] = wlog.AppendRecord(t.rep[j], rec)
	t.repN[j]++
}

// commitPartial is a partial task's commit: this commit's partial
// aggregates and raw records, a marker in every repartition partition,
// and the input position, in one write.
func (t *Task) commitPartial(ctx context.Context) error {
	if !t.uncommitted && len(t.partials) == 0 && !slices.ContainsFunc(t.repN, func(n int) bool { return n > 0 }) {
		return nil // nothing new: stage 2 knows where this task stands
	}
	windowed := t.plan.Window.Kind != NoWindow
	for key, g := range t.partials {
		values := key
		if windowed {
			values = key[16:]
		}
		rec := append(t.recBuf[:0], repPartial)
		rec = binary.AppendUvarint(rec, uint64(len(key)))
		rec = append(rec, key...)
		rec = t.appendGroupState(rec, g)
		t.recBuf = rec
		t.addRepart(t.repartOf(xxhash.Sum64String(values)), rec)
	}
	clear(t.partials)
	idle := !slices.Contains(t.idle, false)
	if t.markIdle && !idle {
		// Waking: while this task was idle, stage 2's watermark may have
		// passed its own. From here on, windows before that stay raw.
		f, err := t.wakeFloor()
		if err != nil {
			return err
		}
		t.wakeWm = max(t.wakeWm, f)
	}
	mark := binary.AppendUvarint([]byte{repMark}, uint64(t.opts.Stage.Index))
	mark = binary.AppendVarint(mark, t.wm)
	mark = append(mark, byte(b2i(idle)))
	mark = binary.AppendUvarint(mark, uint64(len(t.offsets)))
	for _, off := range t.offsets {
		mark = binary.AppendUvarint(mark, uint64(off))
	}
	w := &wlog.Write{}
	for j := range t.rep {
		t.addRepart(j, mark)
		w.Chunks = append(w.Chunks, wlog.Chunk{Stream: t.opts.Stage.Repart, Partition: j, Meta: 1, Count: t.repN[j], Payload: t.rep[j]})
	}
	pos, err := json.Marshal(position{Offsets: t.offsets, MaxTs: t.maxTs, Wm: t.wm, Counts: t.counts, Format: stateFormat, Idle: idle, WakeWm: &t.wakeWm})
	if err != nil {
		return err
	}
	w.Puts = append(w.Puts, wlog.Put{Key: t.posKey(), Value: pos})
	if _, err := t.opts.Log.Append(ctx, w); err != nil {
		return fmt.Errorf("view %q: cannot commit: %w", t.plan.Name, err)
	}
	t.checkpoint = append(t.checkpoint[:0], t.offsets...) // no state: the offsets are the checkpoint
	for j := range t.rep {
		t.rep[j], t.repN[j] = t.rep[j][:0], 0
	}
	t.markIdle = idle
	t.uncommitted = false
	t.committedWm = t.wm
	t.publish()
	t.observe(0)
	return nil
}

// wakeFloor bounds stage 2's watermark: it is never past the greatest
// watermark any partial task has committed (its markers carry no more).
// Read as the task wakes, it holds for good: stage 2 cannot pass this
// task's idle marker while the task has unread input (woken), and then
// reads its markers again.
func (t *Task) wakeFloor() (int64, error) {
	f := t.committedWm
	for k := range t.opts.Stage.Tasks {
		v, ok, err := t.opts.Meta.Get(fmt.Appendf(nil, "%sp%d/pos", t.opts.Stage.Base, k))
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		var pos position
		if err := json.Unmarshal(v, &pos); err != nil {
			return 0, fmt.Errorf("%w: position of view %q: %v", wlog.ErrCorrupt, t.plan.Name, err)
		}
		f = max(f, pos.Wm)
	}
	return f, nil
}

// mergeRecord processes one record of a merge task's repartition partition.
func (t *Task) mergeRecord(rec []byte) error {
	if len(rec) == 0 {
		return badRepart("empty record")
	}
	switch rec[0] {
	case repMark:
		task, n := binary.Uvarint(rec[1:])
		if n <= 0 || task >= uint64(len(t.marks)) {
			return badRepart("marker")
		}
		wm, m := binary.Varint(rec[1+n:])
		rest := rec[1+n:]
		if m <= 0 || len(rest) < m+1 {
			return badRepart("marker")
		}
		idle := rest[m] == 1
		rest = rest[m+1:]
		count, k := binary.Uvarint(rest)
		if k <= 0 || count > uint64(len(rest)) {
			return badRepart("marker")
		}
		rest = rest[k:]
		offs := t.markOffs[task][:0]
		for range count {
			off, k := binary.Uvarint(rest)
			if k <= 0 {
				return badRepart("marker")
			}
			offs, rest = append(offs, int64(off)), rest[k:]
		}
		t.marks[task], t.markIdles[task], t.markOffs[task] = wm, idle, offs
		t.updateWatermark()
		return nil
	case repRaw:
		wm, n := binary.Varint(rec[1:])
		if n <= 0 {
			return badRepart("raw record")
		}
		cols := t.plan.RowColumns()
		if _, err := schema.DecodeRow(cols, rec[1+n:], t.row[:0]); err != nil {
			return err
		}
		ev := t.row[t.plan.Input.EventCol]
		// Late as the partial task judged it, or as this task does now.
		t.judgeWm = wm
		t.apply(t.row, ev.Int, ev.Null, nil)
		t.judgeWm = math.MinInt64
		return nil
	case repPartial:
		n, k := binary.Uvarint(rec[1:])
		if k <= 0 || uint64(len(rec)-1-k) < n {
			return badRepart("partial aggregate")
		}
		key, state := rec[1+k:1+k+int(n)], rec[1+k+int(n):]
		return t.mergePartial(key, state)
	}
	return badRepart(fmt.Sprintf("record of unknown kind %d", rec[0]))
}

// badRepart is the error for a repartition record that cannot be read.
func badRepart(what string) error {
	return fmt.Errorf("%w: a %s in the repartition stream cannot be read; drop and re-create the view (a file view: change its SQL) to rebuild it", wlog.ErrCorrupt, what)
}

// mergePartial folds a partial aggregate (its group's state key and
// value) into its group. Only a new group is decoded whole; an existing
// one takes the accumulators.
func (t *Task) mergePartial(key, state []byte) error {
	if g, ok := t.groups[string(key)]; ok && len(state) > 0 {
		// A group in state is open, or fired and kept for late updates.
		accs, err := t.loadAccs(state[1:]) // after the flags byte
		if err != nil {
			return err
		}
		for i := range g.accs {
			g.accs[i].Merge(accs[i])
		}
		g.changed = true
		t.markDirty(g)
		return nil
	}
	p, err := t.loadGroup(string(key), state)
	if err != nil {
		return err
	}
	plan := t.plan
	windowed := plan.Window.Kind != NoWindow
	fired := windowed && p.span.End+plan.AllowedLateness <= t.wm
	switch {
	case fired && t.closedAt(p) && !t.replaying:
		// A partial task sends nothing stage 2 could find late (see
		// parallel.go); if one ever did, failing would stop the view for
		// good (the record is committed): count it and say so.
		t.counts.LateDropped++
		t.opts.Logger.Error("BUG: a partial aggregate for a closed window was dropped", "view", t.plan.Name, "window_end", time.UnixMicro(p.span.End).UTC())
		return nil
	case fired && t.closedAt(p):
		// Replayed input of a window whose state is gone since: its rows
		// were committed.
		return nil
	}
	// A replay can meet a window that fired since, kept for late
	// updates: as lookup does, the group starts fired.
	p.fired = fired
	t.addGroup(p)
	p.changed = true
	t.markDirty(p)
	return nil
}

// markWatermark is a merge task's watermark from the partial tasks'
// markers: the least of those not idle, or the greatest when all are.
func (t *Task) markWatermark() int64 {
	r := newWatermarkRule()
	for i, m := range t.marks {
		r.add(m, !t.markIdles[i] || t.woken(i))
	}
	return r.watermark()
}

// woken reports whether partial task i, idle at its last marker, has
// input past the offsets it had then. Until its next marker it holds the
// watermark back: one task waking must not find the window its records
// belong to fired because another task read the same write first (one
// task would see both partitions' records in the same round).
func (t *Task) woken(i int) bool {
	parts := stageParts(Stage{Kind: StagePartial, Index: i, Tasks: t.opts.Stage.Tasks}, t.plan.Input.Partitions)
	for vp, p := range parts {
		if vp >= len(t.markOffs[i]) {
			return true
		}
		if end, err := t.opts.Log.End(t.plan.Input.Stream, p); err != nil || end > t.markOffs[i][vp] {
			return true
		}
	}
	return false
}

// trimRepart deletes a merge task's repartition records below its
// checkpoint: a restart replays from there.
func (t *Task) trimRepart() {
	if t.opts.Stage.Kind != StageMerge || len(t.checkpoint) == 0 {
		return
	}
	if _, err := t.opts.Log.Retain(t.opts.Stage.Repart, t.opts.Stage.Index, t.checkpoint[0], wlog.Retention{MaxAgeMillis: 1}); err != nil {
		t.opts.Logger.Warn("cannot trim the repartition stream", "view", t.plan.Name, "err", err)
	}
}
