package stream

import (
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/schema"
)

// Metrics are the runtime's Prometheus metrics, labelled by view.
type Metrics struct {
	RowsIn      *prometheus.CounterVec // input records processed
	RowsOut     *prometheus.CounterVec // output rows written
	Late        *prometheus.CounterVec // late records, by view and policy outcome
	StateGroups *prometheus.GaugeVec   // open groups (windows × keys) in state
	StateBytes  *prometheus.CounterVec // bytes of state entries written by commits
	Watermark   *prometheus.GaugeVec   // Unix seconds
	Lag         *prometheus.GaugeVec   // input records not yet processed
}

// Options configure a Task.
type Options struct {
	Log  wlog.Log
	Meta wlog.Meta
	// OutputStream and LateStream are log streams of one partition each.
	OutputStream string
	LateStream   string
	// StatePrefix holds the task's keys in Meta: state entries under
	// StatePrefix+"s/", its position at StatePrefix+"pos".
	StatePrefix string
	// CommitInterval bounds how long processed input stays uncommitted
	// (and so invisible in the view); default 100 ms.
	CommitInterval time.Duration
	// CheckpointInterval is how often the task checkpoints the state that
	// changed (default 5 s). Commits write only the outputs and the
	// position, which keeps them cheap at many keys; after a crash the task
	// replays the input since the last checkpoint to rebuild its state,
	// without emitting anything twice.
	CheckpointInterval time.Duration
	// ChangelogLimit: once a continuous aggregate's changelog has this many
	// rows (and more than 4 per group) since its last rewrite, the task
	// writes every group's current row again and moves the view's output
	// floor there: rows below it are superseded and may be retained away.
	// Default 100000.
	ChangelogLimit int
	// CheckpointChunk is how many state entries one checkpoint write holds
	// (default 2000): a checkpoint of many groups goes out in small writes
	// between rounds, so it never holds up other commits for long.
	CheckpointChunk int
	// IdleTimeout: a partition with no new records for this long stops
	// holding back the watermark; default 1 s.
	IdleTimeout time.Duration
	ReadBytes   int // per partition per round; default 1 MiB
	Now         func() time.Time
	Metrics     *Metrics
	Logger      *slog.Logger
	// Stage places the task in a parallel view; zero: the view's only task.
	Stage Stage
}

// Task keeps one view up to date. It is not safe for concurrent use; Run
// is its only entry point besides Stats.
type Task struct {
	plan *Plan
	opts Options

	// Committed with every commit (see position).
	offsets []int64
	maxTs   []int64 // per partition; math.MinInt64 until a record is seen
	wm      int64
	counts  Counts
	// committedWm is the watermark of the last commit: what Stats shows
	// and what views reading this one's output go by.
	committedWm int64
	upWm        []int64 // per partition: Upstream's answer before the round read it

	lastActive  []time.Time
	idle        []bool
	groups      map[string]*group
	byEnd       map[int64][]*group
	fireQ       int64Heap           // window ends not yet fired
	cleanQ      int64Heap           // window ends whose state is still kept
	sessions    map[string][]*group // SESSION windows: the open sessions of each key
	sessQ       sessionHeap         // SESSION windows: open sessions by end
	fireQueued  map[int64]bool
	cleanQueued map[int64]bool

	uncommitted   bool  // input processed since the last commit
	outFloor      int64 // see position.OutFloor
	sinceSnapshot int64
	live          bool // caught up with the input once since the start
	// checkpoint is the input position the stored state reflects;
	// replayUntil the committed position: input in between is replayed
	// after a restart to rebuild state, with every output suppressed
	// (it was committed already).
	checkpoint   []int64
	replayUntil  []int64
	replaying    bool
	epoch        uint64         // the last complete checkpoint: state entries of later epochs are not live
	job          *checkpointJob // the checkpoint being written, or nil
	obsolete     [][]byte       // entries the checkpoint in progress supersedes (deletable once it is live)
	obsoleteDone [][]byte       // entries superseded by a live checkpoint: deleted by the next one
	changed      []*group       // groups changed since the last commit (emission)
	changedGen   uint64
	early        []*group // EMIT EVERY: groups changed since the last early emission
	earlyGen     uint64
	lastCkpt     time.Time
	published    atomic.Pointer[Stats]
	reported     Counts // counts already added to the metrics

	dirty    []*group // state to write at the next commit
	deleted  [][]byte // state keys to delete at the next commit
	out      []byte   // output chunk payload
	outN     int
	late     []byte
	lateN    int
	lastEmit time.Time

	keyCols  []schema.Column
	outCols  []schema.Column
	mappers  [2]map[uint32]*rowMapper // per input
	row      Row
	args     []schema.Value
	keyVals  []schema.Value
	aggRow   Row
	spans    []Span
	hexKey   []byte // the row key of an upsert output row, hex
	ends     []int64
	keyBuf   []byte
	recBuf   []byte
	outVals  []schema.Value
	dirtyGen uint64
	// Top-N: the position of the record being applied, the kept columns,
	// and the row a kept row is emitted from.
	posPart, posOff int64
	topCols         []schema.Column
	topVals         []schema.Value
	topRow          Row
	topBuf          []byte
	topRows         int // rows kept by all groups
	topShown        int // rows all groups show: a continuous Top-N's table size
	// topScratch and topOld are a Top-N's previous row and entry, being
	// replaced (topReplace).
	topScratch Row
	topOld     []byte
	// A changelog input: each key's current row, and the row being
	// taken back out of its group.
	upRows     map[string]*group
	prevRow    Row
	savedRow   Row
	retracting bool

	// The inputs' partitions in one numbering: partition vp is partition
	// vpPart[vp] of input vpIn[vp] (the left input's first).
	inputs []Input
	vpIn   []int
	vpPart []int
	seg    [2]int // where each input's columns start in a row
	join   joinState
	table  lookupState
	// readsView: an input is another view's output (Input.Upstream).
	readsView bool

	// Parallel views (parallel.go). A partial task: this commit's partial
	// groups, the repartition records per partition, and whether every
	// partition was idle at its last marker. A merge task: the last
	// marker of each partial task.
	partials  map[string]*group
	rep       [][]byte
	repN      []int
	markIdle  bool
	marks     []int64
	markIdles []bool
	markOffs  [][]int64 // each partial task's input offsets at its last marker
	wakeWm    int64     // a partial task: see wakeFloor
	// bound is a bounded run's end offsets: a partition short of its end
	// is never idle (its records are on the way).
	bound []int64
	// judgeWm, when past wm, is the watermark apply judges lateness by: a
	// raw record's from its partial task.
	judgeWm int64
}

// Counts are a task's running totals, committed with its offsets.
type Counts struct {
	In          int64 `json:"in"`           // input records processed
	Out         int64 `json:"out"`          // output rows written
	LateDropped int64 `json:"late_dropped"` // late records counted and dropped
	LateKept    int64 `json:"late_kept"`    // late records in the side output
	LateUpdated int64 `json:"late_updated"` // late records that updated an emitted window
}

// group is one window × key's aggregate state.
type group struct {
	key        string // state key: [start, end] (windowed) + encoded key values
	keyVals    []schema.Value
	span       Span
	accs       []Acc
	fired      bool // the window's row was emitted at its close
	emitted    bool // a row for this key is in the output (upsert views)
	changed    bool // changed since last emitted
	gone       bool // removed from state
	dirtyGen   uint64
	changedGen uint64
	earlyGen   uint64
	// storedEpoch is the checkpoint epoch of the group's stored entry (0:
	// none stored yet).
	storedEpoch uint64
	// Session windows only.
	sessKey string // the encoded key values: sessions of one key merge
	hidx    int    // position in Task.sessQ
	due     int64  // when the watermark acts on it next: fire, or (fired, LATE DATA UPDATE) drop
	// jr is set when the group is a row buffered by a join, not aggregate
	// state; due is then when it leaves the buffer.
	jr *joinRow
	// ur is set when the group is a key's current row of a changelog
	// input (encoded in the input's columns), not aggregate state.
	ur []byte
}

// position is what a task commits besides its state entries.
type position struct {
	Offsets []int64 `json:"offsets"`
	MaxTs   []int64 `json:"max_ts"`
	Wm      int64   `json:"watermark"`
	Counts  Counts  `json:"counts"`
	// Checkpoint is where the stored state stands (≤ Offsets): the state
	// entries of epochs up to Epoch.
	Checkpoint []int64 `json:"checkpoint,omitempty"`
	Epoch      uint64  `json:"epoch"`
	Format     int     `json:"format"` // 2: state entries carry their epoch
	// Continuous aggregates: the output offset from which every group's
	// current row is written again (rows below are superseded), and the
	// rows written since.
	OutFloor      int64 `json:"out_floor,omitempty"`
	SinceSnapshot int64 `json:"since_snapshot,omitempty"`
	// A partial task: every partition was idle at this commit's marker. A
	// merge task: the partial tasks' last markers.
	Idle     bool      `json:"idle,omitempty"`
	Marks    []int64   `json:"marks,omitempty"`
	MarkIdle []bool    `json:"mark_idle,omitempty"`
	MarkOffs [][]int64 `json:"mark_offsets,omitempty"`
	// A partial task: the watermark stage 2 may have reached while it was
	// idle (see wakeFloor).
	WakeWm *int64 `json:"wake_wm,omitempty"`
}

// stateFormat is the position's Format this code writes and reads.
const stateFormat = 2

// checkpointJob is a checkpoint in progress: the state entries captured
// when it started, written in chunks; the position makes epoch live once
// every chunk is durable.
type checkpointJob struct {
	epoch   uint64
	offsets []int64 // the input position the captured state reflects
	puts    []wlog.Put
	deletes [][]byte
	next    int  // puts and deletes written so far (puts first)
	written bool // every chunk is durable
}

func (j *checkpointJob) size() int { return len(j.puts) + len(j.deletes) }

// chunk appends up to n of the job's remaining entries to w.
func (j *checkpointJob) chunk(w *wlog.Write, n int) {
	for ; n > 0 && j.next < j.size(); n-- {
		if j.next < len(j.puts) {
			w.Puts = append(w.Puts, j.puts[j.next])
		} else {
			w.Deletes = append(w.Deletes, j.deletes[j.next-len(j.puts)])
		}
		j.next++
	}
}

// NewTask prepares a task; Run restores its state and runs it.
func NewTask(plan *Plan, opts Options) *Task {
	if opts.CommitInterval == 0 {
		opts.CommitInterval = 100 * time.Millisecond
	}
	if plan.EmitEvery > 0 {
		// Early-fired rows are visible once committed.
		opts.CommitInterval = min(opts.CommitInterval, plan.EmitEvery)
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = time.Second
	}
	if opts.ReadBytes == 0 {
		opts.ReadBytes = 1 << 20
	}
	if opts.CheckpointInterval == 0 {
		opts.CheckpointInterval = 5 * time.Second
	}
	if opts.CheckpointChunk == 0 {
		opts.CheckpointChunk = 2000
	}
	if opts.ChangelogLimit == 0 {
		opts.ChangelogLimit = 100_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	t := &Task{plan: plan, opts: opts, mappers: [2]map[uint32]*rowMapper{{}, {}},
		fireQueued: map[int64]bool{}, cleanQueued: map[int64]bool{}, judgeWm: math.MinInt64, wakeWm: math.MinInt64}
	t.inputs = plan.Inputs()
	for i, in := range t.inputs {
		t.readsView = t.readsView || in.Upstream != nil
		for _, p := range stageParts(opts.Stage, in.Partitions) {
			t.vpIn = append(t.vpIn, i)
			t.vpPart = append(t.vpPart, p)
		}
	}
	switch st := opts.Stage; st.Kind {
	case StagePartial:
		t.partials = map[string]*group{}
		t.rep = make([][]byte, st.Count)
		t.repN = make([]int, st.Count)
	case StageMerge:
		// One input partition: the repartition stream's st.Index.
		t.vpIn, t.vpPart = []int{0}, []int{st.Index}
	}
	t.seg[1] = len(plan.Input.Columns)
	for _, k := range plan.Keys {
		t.keyCols = append(t.keyCols, schema.Column{Type: k.Type})
	}
	t.outCols = plan.OutputColumns()
	n := len(plan.RowColumns())
	if plan.Window.Kind != NoWindow {
		n += 2
	}
	t.row = make(Row, n)
	if plan.Join != nil {
		t.join.init(plan.Join, n)
	}
	t.args = make([]schema.Value, len(plan.Aggs))
	t.keyVals = make([]schema.Value, len(plan.Keys))
	if tn := plan.TopN; tn != nil {
		cols := plan.RowColumns()
		for _, s := range tn.Keep {
			t.topCols = append(t.topCols, cols[s])
		}
		t.topVals = make([]schema.Value, len(tn.Keep))
		t.topRow = make(Row, n+1)
		for i := range t.topRow {
			t.topRow[i] = schema.Value{Null: true}
		}
	}
	return t
}

// Stats is a view's progress, for SHOW VIEWS and metrics.
type Stats struct {
	Watermark time.Time
	Groups    int
	Counts    Counts
	Offsets   []int64
	// Checkpoint is the input position the stored state reflects: the log
	// must keep every record from here on.
	Checkpoint []int64
	// Live: the task has read to the end of its input at least once since
	// it started (a new view backfilling the retained log is not live).
	Live bool
	// OutFloor: output rows below this offset are superseded by later ones
	// (continuous aggregates rewrite their rows now and then); nothing
	// needs them.
	OutFloor int64
	// WatermarkMicros is Watermark in µs, math.MinInt64 before the first,
	// math.MaxInt64 once a bounded run ended: every window has fired.
	WatermarkMicros int64
	// Idle: every input partition was idle at the last commit (so the
	// watermark need not hold back another task's; see Job.Stats).
	Idle bool
	// Backlog: records a parallel view's later stage has still to read
	// (its repartition stream), on top of the input's lag.
	Backlog int64
}

func (t *Task) posKey() []byte   { return []byte(t.opts.StatePrefix + "pos") }
func (t *Task) stateKey() string { return t.opts.StatePrefix + "e/" }

// joinStateKey prefixes the entries of a join's buffered rows.
func (t *Task) joinStateKey() string { return t.opts.StatePrefix + "j/" }

// entryKey is the stored key of a group's state as of a checkpoint epoch.
func (t *Task) entryKey(g *group, epoch uint64) []byte {
	prefix := t.stateKey()
	switch {
	case g.jr != nil:
		prefix = t.joinStateKey()
	case g.ur != nil:
		prefix = t.upStateKey()
	}
	return appendEntryKey(nil, prefix, g.key, epoch)
}

func appendEntryKey(k []byte, prefix, groupKey string, epoch uint64) []byte {
	k = append(append(k, prefix...), groupKey...)
	return binary.BigEndian.AppendUint64(k, epoch)
}

// forget schedules the deletion of g's stored entry (g left the state).
func (t *Task) forget(g *group) {
	if g.storedEpoch > 0 {
		t.deleted = append(t.deleted, t.entryKey(g, g.storedEpoch))
		g.storedEpoch = 0
	}
}

// restore loads the committed position and state.
func (t *Task) restore() error {
	parts := len(t.vpIn)
	t.offsets = make([]int64, parts)
	t.maxTs = make([]int64, parts)
	for p := range t.maxTs {
		t.maxTs[p] = math.MinInt64
	}
	t.wm = math.MinInt64
	t.groups = map[string]*group{}
	t.upRows = map[string]*group{}
	if t.plan.Join != nil {
		t.join.reset()
	}
	t.byEnd = map[int64][]*group{}
	t.sessions = map[string][]*group{}
	now := t.opts.Now()
	t.lastActive = make([]time.Time, parts)
	t.idle = make([]bool, parts)
	for p := range t.lastActive {
		t.lastActive[p] = now
	}
	t.lastEmit = now
	t.upWm = make([]int64, parts)
	for p := range t.idle {
		// An empty partition has nothing to hold the watermark back for
		// (a view's output always may: its upstream's watermark rules).
		if t.upstream(p) || t.merging() {
			continue
		}
		if end, err := t.end(p); err == nil && end == 0 && !t.awaited(p) {
			t.idle[p] = true
		}
	}
	v, ok, err := t.opts.Meta.Get(t.posKey())
	if err != nil {
		return err
	}
	if ok {
		var pos position
		if err := json.Unmarshal(v, &pos); err != nil {
			return fmt.Errorf("%w: position of view %q: %v", wlog.ErrCorrupt, t.plan.Name, err)
		}
		if len(pos.Offsets) != parts || len(pos.MaxTs) != parts {
			return fmt.Errorf("view %q was built over %d partitions of %s, which now has %d: drop and re-create the view",
				t.plan.Name, len(pos.Offsets), t.inputNames(), parts)
		}
		if pos.Format != stateFormat {
			return fmt.Errorf("view %q has state in an older format (%d); drop and re-create the view (a file view: change its SQL to rebuild it)", t.plan.Name, pos.Format)
		}
		t.offsets, t.maxTs, t.wm, t.counts, t.epoch = pos.Offsets, pos.MaxTs, pos.Wm, pos.Counts, pos.Epoch
		t.outFloor, t.sinceSnapshot = pos.OutFloor, pos.SinceSnapshot
		t.markIdle, t.marks, t.markIdles, t.markOffs = pos.Idle, pos.Marks, pos.MarkIdle, pos.MarkOffs
		if pos.WakeWm != nil {
			t.wakeWm = *pos.WakeWm
		}
		if len(pos.Checkpoint) == parts {
			t.replayUntil = t.offsets
			t.offsets = append([]int64(nil), pos.Checkpoint...)
		}
	}
	t.checkpoint = append([]int64(nil), t.offsets...)
	t.committedWm = t.wm
	if st := t.opts.Stage; st.Kind == StageMerge && len(t.marks) != st.Tasks {
		t.marks, t.markIdles, t.markOffs = make([]int64, st.Tasks), make([]bool, st.Tasks), make([][]int64, st.Tasks)
		for i := range t.marks {
			t.marks[i] = math.MinInt64
		}
	}
	if t.opts.Stage.Kind == StagePartial {
		t.uncommitted = true // the first commit tells stage 2 where this task stands
	}
	t.lastCkpt = now
	// Each group's live entry is its latest of an epoch up to the last
	// complete checkpoint; older ones are obsolete, later ones are what an
	// interrupted checkpoint left: garbage, deleted before any new epoch
	// could reuse their numbers.
	type entry struct {
		epoch uint64
		value []byte
	}
	var garbage [][]byte
	scan := func(prefix string) (map[string]entry, error) {
		best := map[string]entry{}
		err := t.opts.Meta.Scan([]byte(prefix), func(k, v []byte) bool {
			if len(k) < len(prefix)+8 {
				return true
			}
			gk := string(k[len(prefix) : len(k)-8])
			ep := binary.BigEndian.Uint64(k[len(k)-8:])
			switch old, seen := best[gk]; {
			case ep > t.epoch:
				garbage = append(garbage, slices.Clone(k))
			case !seen || ep > old.epoch:
				if seen {
					t.obsoleteDone = append(t.obsoleteDone, appendEntryKey(nil, prefix, gk, old.epoch))
				}
				best[gk] = entry{ep, slices.Clone(v)}
			default:
				t.obsoleteDone = append(t.obsoleteDone, slices.Clone(k))
			}
			return true
		})
		return best, err
	}
	best, err := scan(t.stateKey())
	if err != nil {
		return err
	}
	joined, err := scan(t.joinStateKey())
	if err != nil {
		return err
	}
	ups, err := scan(t.upStateKey())
	if err != nil {
		return err
	}
	for gk, e := range ups {
		t.upRows[gk] = &group{key: gk, hidx: -1, ur: e.value, storedEpoch: e.epoch}
	}
	if len(garbage) > 0 {
		if _, err := t.opts.Log.Append(context.Background(), &wlog.Write{Deletes: garbage}); err != nil {
			return fmt.Errorf("view %q: cannot delete the entries of an interrupted checkpoint: %w", t.plan.Name, err)
		}
	}
	for gk, e := range best {
		g, err := t.loadGroup(gk, e.value)
		if err != nil {
			return fmt.Errorf("%w: state of view %q: %v", wlog.ErrCorrupt, t.plan.Name, err)
		}
		g.storedEpoch = e.epoch
		if t.closedAt(g) {
			// The state predates its window's close: the window's row was
			// committed; its entry goes at the next checkpoint.
			t.forget(g)
			continue
		}
		if t.plan.TopN != nil {
			a := g.accs[0].(*topAcc)
			t.topRows += len(a.rows)
			t.topShown += a.kept()
		}
		t.addGroup(g)
	}
	for gk, e := range joined {
		// Rows stored one entry each (the format before segments).
		g, err := t.loadJoinRow(gk, e.value)
		if err != nil {
			return fmt.Errorf("%w: join state of view %q: %v", wlog.ErrCorrupt, t.plan.Name, err)
		}
		g.storedEpoch = e.epoch
		t.addJoinRow(g)
	}
	if t.plan.Join != nil {
		if err := t.restoreSegments(); err != nil {
			return fmt.Errorf("%w: join state of view %q: %v", wlog.ErrCorrupt, t.plan.Name, err)
		}
	}
	if err == nil {
		t.reported = t.counts
		t.checkReplay()
		t.publish()
	}
	return err
}

// closedAt reports whether g's window is past its cleanup time at the
// current watermark (never for continuous aggregates).
func (t *Task) closedAt(g *group) bool {
	if t.plan.Window.Kind == NoWindow {
		return false
	}
	return g.span.End+t.plan.AllowedLateness+t.plan.LateFor <= t.wm
}

// checkReplay ends the replay once every partition is back at the
// committed position: the state is then what it was at the last commit,
// whose outputs reflect it.
func (t *Task) checkReplay() {
	if t.replayUntil == nil {
		t.replaying = false
		return
	}
	for p, off := range t.offsets {
		if off < t.replayUntil[p] {
			t.replaying = true
			return
		}
	}
	t.replayUntil, t.replaying = nil, false
	upsert := t.plan.Upsert()
	for _, g := range t.groups {
		// The committed output shows every group as of the last commit.
		// An upsert view may need to retract any of them later, and
		// early firing re-emits open windows (idempotent upserts).
		g.emitted = upsert
		g.changed = t.plan.EmitEvery > 0 && !g.fired
		if t.plan.TopN != nil {
			// What the output shows; an open window that early firing
			// re-emits writes all its rows again.
			a := g.accs[0].(*topAcc)
			a.dirty, a.emitted = len(a.rows), a.kept()
			if g.changed {
				a.dirty = 0
			}
		}
		if g.changed {
			g.earlyGen = t.earlyGen + 1
			t.early = append(t.early, g)
		}
	}
}

// Run restores the task and processes its input until ctx ends, then
// commits what it has processed and returns. A returned error means the
// task stopped without committing its last round; its committed state is
// intact and a new task resumes from it.
func (t *Task) Run(ctx context.Context) error { return t.run(ctx, nil) }

// RunBounded runs the task over a bounded input, for benchmarks and batch
// runs: as Run, until every input partition p reaches ends[p] (waiting for
// the records to be appended); then it moves the watermark past every
// window, so that all of them fire, and commits.
func (t *Task) RunBounded(ctx context.Context, ends []int64) error { return t.run(ctx, ends) }

// run is Run, and RunBounded when ends is set.
func (t *Task) run(ctx context.Context, ends []int64) error {
	t.bound = ends
	if err := t.restore(); err != nil {
		return err
	}
	lastCommit := t.opts.Now()
	for {
		notify := t.opts.Log.Notify(t.source(0))
		var notifyRight <-chan struct{} // nil: never ready
		if len(t.inputs) > 1 {
			notifyRight = t.opts.Log.Notify(t.inputs[1].Stream)
		}
		progressed, err := t.round()
		if err != nil {
			return err
		}
		if ends != nil && t.reached(ends) {
			t.evict(math.MaxInt64)
			t.wm = math.MaxInt64
			t.uncommitted = true
			t.fire()
			return t.commitCheckpoint(ctx, checkpointFull)
		}
		now := t.opts.Now()
		t.advanceIdle(now)
		if t.plan.EmitEvery > 0 && now.Sub(t.lastEmit) >= t.plan.EmitEvery {
			t.emitEarly()
			t.lastEmit = now
		}
		chunked := false
		if t.job != nil && !t.job.written {
			if err := t.writeChunk(ctx); err != nil {
				return err
			}
			chunked = true
		}
		pending := t.uncommitted || len(t.changed) > 0 || t.outN > 0 || t.lateN > 0
		// A task caught up commits at once (fresh rows), except a partial
		// task whose last commit is recent: its commits are another task's
		// input, and fewer of them aggregate more.
		eager := !progressed && (t.opts.Stage.Kind != StagePartial || now.Sub(lastCommit) >= t.opts.CommitInterval/4)
		if pending && (now.Sub(lastCommit) >= t.opts.CommitInterval || eager || len(t.out)+len(t.late) > 8<<20) {
			if err := t.commit(ctx); err != nil {
				return err
			}
			lastCommit = now
		}
		if ctx.Err() != nil {
			// A clean stop checkpoints: the next start has nothing to replay.
			var err error
			if pending || len(t.dirty) > 0 || len(t.deleted) > 0 || t.job != nil {
				err = t.commitCheckpoint(context.Background(), checkpointFull)
			}
			if err == nil && ends != nil {
				err = ctx.Err() // a bounded run stopped before the end of its input
			}
			return err
		}
		if progressed || chunked {
			continue // more input, or more of a checkpoint to write: no wait
		}
		wait := t.opts.IdleTimeout / 2
		if t.plan.EmitEvery > 0 {
			wait = min(wait, t.plan.EmitEvery)
		}
		if t.readsView {
			// An upstream view's watermark can move with no rows to wake
			// us: look again every commit interval.
			wait = min(wait, t.opts.CommitInterval)
		}
		if t.uncommitted && t.opts.Stage.Kind == StagePartial {
			wait = min(wait, t.opts.CommitInterval/4) // the commit it put off
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-notify:
		case <-notifyRight:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// reached reports whether every input partition p is at ends[p].
// A partition reading a view's output is at its end once the view's
// bounded run ended (its watermark is past everything) and every row it
// wrote was read: ends says nothing about those.
func (t *Task) reached(ends []int64) bool {
	if t.merging() {
		// Every partial task wrote its last marker, and it was read.
		end, err := t.end(0)
		return err == nil && t.offsets[0] >= end && !slices.ContainsFunc(t.marks, func(m int64) bool { return m != math.MaxInt64 })
	}
	for p, end := range ends {
		if t.upstream(p) {
			if t.maxTs[p] != math.MaxInt64 {
				return false
			}
			continue
		}
		if t.offsets[p] < end {
			return false
		}
	}
	return true
}

// upstream reports whether partition p is a view's output.
func (t *Task) upstream(p int) bool { return t.inputs[t.vpIn[p]].Upstream != nil }

// round reads one slice of every partition and processes it.
func (t *Task) round() (bool, error) {
	progressed := false
	if h := t.opts.Stage.Held; h != nil && h() {
		return false, nil // stage 2 is behind: the input waits
	}
	ends := t.ends[:0]
	for p := range t.vpIn {
		if up := t.inputs[t.vpIn[p]].Upstream; up != nil {
			// Before its end: every row up to this watermark is below it.
			t.upWm[p] = up()
		}
		end, err := t.end(p)
		if err != nil {
			return false, err
		}
		ends = append(ends, end)
		// A partition with new records holds the watermark back again
		// before any record of this round moves it: otherwise the first
		// partition read could close windows the others still feed.
		if end > t.offsets[p] && t.idle[p] && !t.upstream(p) && !t.merging() {
			t.idle[p] = false
			t.lastActive[p] = t.opts.Now()
		}
	}
	t.ends = ends
	if t.plan.Lookup != nil {
		// After the ends: a record appended after a table refresh joins
		// that version or a later one.
		t.refreshLookup()
	}
	for p := range t.vpIn {
		end := ends[p]
		limit := int64(math.MaxInt64)
		if t.replaying {
			limit = t.replayUntil[p]
		}
		if t.plan.Lookup != nil {
			// Records appended after the round's table snapshot wait for
			// the next round (and its snapshot).
			limit = min(limit, end)
		}
		if t.offsets[p] >= min(end, limit) {
			continue
		}
		batches, err := t.opts.Log.Read(t.source(p), t.vpPart[p], t.offsets[p], t.opts.ReadBytes)
		if err != nil {
			return false, err
		}
		for bi := range batches {
			b := &batches[bi]
			var m *rowMapper
			if !t.merging() {
				if m, err = t.mapper(t.vpIn[p], b.Meta); err != nil {
					return false, err
				}
			}
			from := t.offsets[p]
			var perr error
			err = b.Records(func(off int64, rec []byte) bool {
				if off < from {
					return true
				}
				if off >= limit {
					return false // replay stops at the committed position
				}
				if t.merging() {
					perr = t.mergeRecord(rec)
				} else {
					perr = t.process(p, off, m, rec)
				}
				if perr != nil {
					perr = fmt.Errorf("view %q: %s/%d@%d: %w", t.plan.Name, t.source(p), t.vpPart[p], off, perr)
					return false
				}
				t.offsets[p] = off + 1
				if !t.replaying {
					t.uncommitted = true
				}
				return true
			})
			if err == nil {
				err = perr
			}
			if err != nil {
				return false, err
			}
			progressed = true
		}
		if len(batches) > 0 {
			t.lastActive[p] = t.opts.Now()
			if t.idle[p] {
				t.idle[p] = false
			}
		}
	}
	if !t.replaying {
		// A view's output read to the end is as far as its watermark.
		moved := false
		for p, w := range t.upWm {
			if t.upstream(p) && t.offsets[p] >= ends[p] && w > t.maxTs[p] {
				t.maxTs[p] = w
				moved = true
			}
		}
		if moved {
			t.updateWatermark()
		}
	}
	if t.replaying {
		t.checkReplay()
	}
	if !progressed && !t.replaying && !t.live {
		t.live = true
		t.publish()
	}
	return progressed, nil
}

// awaited reports whether a bounded run's partition p has records to come.
func (t *Task) awaited(p int) bool {
	return t.bound != nil && p < len(t.bound) && t.offsets != nil && t.offsets[p] < t.bound[p]
}

// advanceIdle marks partitions idle that have been caught up and quiet
// for the idle timeout, which may advance the watermark.
func (t *Task) advanceIdle(now time.Time) {
	changed := false
	for p := range t.idle {
		if t.idle[p] || t.upstream(p) || t.merging() || t.awaited(p) || now.Sub(t.lastActive[p]) < t.opts.IdleTimeout {
			continue
		}
		end, err := t.end(p)
		if err == nil && t.offsets[p] >= end {
			t.idle[p] = true
			changed = true
		}
	}
	if changed {
		if t.opts.Stage.Kind != StageWhole {
			// Stage 2 (or the job's watermark) learns of the idleness
			// from the commit.
			t.uncommitted = true
		}
		t.updateWatermark()
	}
}

// watermarkRule is the watermark over several inputs (partitions, or a
// parallel view's tasks): the least watermark of those that are active,
// or, when every one is idle, the greatest.
type watermarkRule struct {
	active, all int64
	anyActive   bool
}

func newWatermarkRule() watermarkRule {
	return watermarkRule{active: math.MaxInt64, all: math.MinInt64}
}

func (r *watermarkRule) add(wm int64, active bool) {
	r.all = max(r.all, wm)
	if active {
		r.anyActive = true
		r.active = min(r.active, wm)
	}
}

func (r *watermarkRule) watermark() int64 {
	if r.anyActive {
		return r.active
	}
	return r.all
}

// updateWatermark recomputes the watermark: the minimum over active
// partitions of (max event time − disorder); when every partition is idle,
// the maximum. It never goes back, and fires the windows it passes.
func (t *Task) updateWatermark() {
	if t.replaying {
		return // pinned at the committed watermark until the replay ends
	}
	var next int64
	if t.merging() {
		next = t.markWatermark()
	} else {
		r := newWatermarkRule()
		for p, m := range t.maxTs {
			w := int64(math.MinInt64)
			if m != math.MinInt64 {
				w = m - t.inputs[t.vpIn[p]].Disorder
			}
			r.add(w, !t.idle[p])
		}
		next = r.watermark()
	}
	if next > t.wm {
		t.evict(next)
		t.wm = next
		t.uncommitted = true
		t.fire()
	}
}

// process evaluates one input record, at offset off of partition p.
func (t *Task) process(p int, off int64, m *rowMapper, rec []byte) error {
	side := t.vpIn[p]
	in := &t.inputs[side]
	seg := t.row[t.seg[side] : t.seg[side]+len(in.Columns)]
	if err := m.decode(rec, seg); err != nil {
		return err
	}
	if !t.replaying {
		t.counts.In++
	}
	// A Top-N ranks ties by the record's position (for a join: the record
	// that completed the pair).
	t.posPart, t.posOff = int64(p), off
	if in.Changelog {
		t.changelogRecord()
		return nil
	}
	// Every record moves event time, whether or not the view keeps it.
	ev := seg[in.EventCol]
	ts := ev.Int
	if !ev.Null && ts > t.maxTs[p] && in.Upstream == nil {
		t.maxTs[p] = ts
		t.updateWatermark()
	}
	if t.plan.Join != nil {
		return t.joinRecord(side, p, off, ts, ev.Null)
	}
	if u := t.plan.Union; u != nil {
		if f := u.Filters[side]; f != nil && !True(f.Eval(t.row)) {
			return nil
		}
		t.writeRow(u.Project[side], t.row, "", false)
		return nil
	}
	if t.plan.Lookup != nil {
		t.lookupRecord(ts, ev.Null)
		return nil
	}
	if t.plan.Filter != nil && !True(t.plan.Filter.Eval(t.row)) {
		return nil
	}
	t.apply(t.row, ts, ev.Null, nil)
	return nil
}

// apply evaluates the plan past its input on row, whose event time is ts
// (null: tsNull). span, when set, is the row's window (a window join
// assigned it); otherwise the plan's window assigns them.
func (t *Task) apply(row Row, ts int64, tsNull bool, span *Span) {
	plan := t.plan
	if t.opts.Stage.Kind == StagePartial && plan.Aggregating {
		t.partialApply(row, ts, tsNull)
		return
	}
	switch {
	case tsNull && plan.Window.Kind != NoWindow:
		// No window can hold a record without event time: keep it as late.
		t.handleLate(row)
		return
	case tsNull:
		ts = math.MinInt64
	}
	if !plan.Aggregating {
		t.emitStateless(row, ts, span)
		return
	}
	for i := range plan.Keys {
		t.keyVals[i] = plan.Keys[i].Eval(row)
	}
	for i := range plan.Aggs {
		if a := plan.Aggs[i].Arg; a != nil {
			t.args[i] = a.Eval(row)
		}
	}
	if plan.TopN != nil {
		var k int
		t.topBuf, k = t.topEntry(t.topBuf[:0], row)
		t.args[0] = schema.Value{Bytes: t.topBuf, Int: int64(k)}
	}
	switch plan.Window.Kind {
	case NoWindow:
		g := t.lookup(Span{}, false)
		if t.retracting {
			t.retractFrom(g, ts)
		} else {
			t.add(g, ts)
		}
		return
	case Session:
		if g := t.session(ts); g != nil {
			t.add(g, ts)
		} else {
			t.handleLate(row)
		}
		return
	}
	late, updated := false, false
	if span != nil {
		t.spans = append(t.spans[:0], *span)
	} else {
		t.spans = plan.Window.Assign(t.spans[:0], ts)
	}
	wm := max(t.wm, t.judgeWm)
	for _, s := range t.spans {
		if s.End+plan.AllowedLateness <= wm {
			// The window has fired: only LATE DATA UPDATE still takes it.
			if plan.Late != LateUpdate || s.End+plan.AllowedLateness+plan.LateFor <= wm {
				late = true
				continue
			}
			updated = true
		}
		t.add(t.lookup(s, true), ts)
	}
	if updated && !t.replaying {
		t.counts.LateUpdated++
	}
	if late {
		t.handleLate(row)
	}
	return
}

func (t *Task) add(g *group, ts int64) {
	if t.plan.TopN != nil {
		a := g.accs[0].(*topAcc)
		n := len(a.rows)
		if !a.offer(t.args[0].Bytes, int(t.args[0].Int)) {
			return // not among the group's first N
		}
		t.topRows += len(a.rows) - n
	} else {
		for i := range g.accs {
			g.accs[i].Add(t.args[i], ts)
		}
	}
	g.changed = true
	t.markDirty(g)
}

// markDirty records that g changed: its state is written at the next
// checkpoint, and emission logic looks at it at the next commit.
func (t *Task) markDirty(g *group) {
	if g.dirtyGen != t.dirtyGen+1 {
		g.dirtyGen = t.dirtyGen + 1
		t.dirty = append(t.dirty, g)
	}
	if g.changedGen != t.changedGen+1 {
		g.changedGen = t.changedGen + 1
		t.changed = append(t.changed, g)
	}
	if t.plan.EmitEvery > 0 && g.changed && g.earlyGen != t.earlyGen+1 {
		g.earlyGen = t.earlyGen + 1
		t.early = append(t.early, g)
	}
}

// handleLate applies the late-data policy to a record none of whose
// windows is open any more (row: the plan's row of it).
func (t *Task) handleLate(row Row) {
	if t.replaying {
		return // handled before the crash: counted, and kept if the policy keeps
	}
	if t.plan.Late == LateDrop {
		t.counts.LateDropped++
		return
	}
	t.counts.LateKept++
	cols := t.plan.RowColumns()
	t.recBuf = schema.EncodeRow(cols, t.recBuf[:0], row[:len(cols)])
	t.late = wlog.AppendRecord(t.late, t.recBuf)
	t.lateN++
}

// groupKey sets t.keyBuf to the state key of the current key values in
// span: [start, end] when windowed, then the encoded values.
func (t *Task) groupKey(s Span, windowed bool) {
	t.keyBuf = t.keyBuf[:0]
	if windowed {
		t.keyBuf = binary.BigEndian.AppendUint64(t.keyBuf, uint64(s.Start)^(1<<63))
		t.keyBuf = binary.BigEndian.AppendUint64(t.keyBuf, uint64(s.End)^(1<<63))
	}
	t.keyBuf = schema.EncodeRow(t.keyCols, t.keyBuf, t.keyVals)
}

// lookup finds or creates the group of the current key values in span.
func (t *Task) lookup(s Span, windowed bool) *group {
	t.groupKey(s, windowed)
	if g, ok := t.groups[string(t.keyBuf)]; ok {
		return g
	}
	g := t.newGroup(string(t.keyBuf), s)
	// A group created in a window that has fired (LATE DATA UPDATE) is
	// emitted at the next commit, like an update of an existing one.
	g.fired = windowed && s.End+t.plan.AllowedLateness <= t.wm
	t.addGroup(g)
	return g
}

// newGroup makes an empty group of the current key values (copied: they
// alias the record being processed).
func (t *Task) newGroup(key string, s Span) *group {
	g := &group{key: key, span: s, keyVals: make([]schema.Value, len(t.keyVals)), accs: make([]Acc, len(t.plan.Aggs))}
	for i, v := range t.keyVals {
		if v.Bytes != nil {
			v.Bytes = slices.Clone(v.Bytes)
		}
		g.keyVals[i] = v
	}
	for i := range t.plan.Aggs {
		g.accs[i] = t.plan.Aggs[i].NewAcc()
	}
	return g
}

// sessionStateKey is a session's state key: its start, eight zero bytes
// (the end changes as the session grows; it is stored in the value) and
// the encoded key values.
func sessionStateKey(start int64, sessKey string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], uint64(start)^(1<<63))
	return string(b[:]) + sessKey
}

// session finds the session of the current key that a record at ts joins,
// merging the sessions it bridges, or opens one. It returns nil when the
// record is late: its own session would have closed already.
func (t *Task) session(ts int64) *group {
	gap := t.plan.Window.Gap
	t.keyBuf = schema.EncodeRow(t.keyCols, t.keyBuf[:0], t.keyVals)
	open := t.sessions[string(t.keyBuf)]
	var target *group
	lo, hi := ts, ts+gap
	kept := open[:0] // filtered in place: no allocation per record
	for _, g := range open {
		if ts >= g.span.End || ts+gap <= g.span.Start {
			kept = append(kept, g)
			continue
		}
		lo, hi = min(lo, g.span.Start), max(hi, g.span.End)
		if target == nil {
			target = g
			kept = append(kept, g)
			continue
		}
		// The record bridges two sessions: fold g into target.
		t.retract(g)
		for i := range target.accs {
			target.accs[i].Merge(g.accs[i])
		}
		t.dropGroup(g)
	}
	lat := t.plan.AllowedLateness
	// The record is late when its own session would have closed; joining
	// an open session saves it, as a fired one does under LATE DATA UPDATE.
	late := ts+gap+lat <= t.wm
	if target == nil {
		closed := hi+lat <= t.wm
		if closed && (t.plan.Late != LateUpdate || hi+lat+t.plan.LateFor <= t.wm) {
			return nil
		}
		sk := string(t.keyBuf)
		g := t.newGroup(sessionStateKey(lo, sk), Span{lo, hi})
		g.sessKey = sk
		// LATE DATA UPDATE: a session that closed before its first record
		// arrived; its row is written at the next commit.
		g.fired = closed
		if closed && !t.replaying {
			t.counts.LateUpdated++
		}
		t.addGroup(g)
		return g
	}
	if late && target.fired && !t.replaying {
		t.counts.LateUpdated++
	}
	t.sessions[target.sessKey] = kept
	if lo != target.span.Start {
		// The state key holds the start: move the entry (and the row of an
		// early firing, which the start keys too).
		t.retract(target)
		t.forget(target)
		delete(t.groups, target.key)
		target.key = sessionStateKey(lo, target.sessKey)
		t.groups[target.key] = target
	}
	target.span = Span{lo, hi}
	// Grown past the watermark again (LATE DATA UPDATE), a fired session
	// is open: it fires again when the watermark passes its new end.
	target.fired = target.fired && hi+lat <= t.wm
	target.due = t.sessionDue(target)
	heap.Fix(&t.sessQ, target.hidx)
	return target
}

// sessionDue is when the watermark acts on session g next: its close, or,
// once fired (LATE DATA UPDATE), the end of its late-update time.
func (t *Task) sessionDue(g *group) int64 {
	if g.fired {
		return g.span.End + t.plan.AllowedLateness + t.plan.LateFor
	}
	return g.span.End + t.plan.AllowedLateness
}

// retract deletes the early-fired row of a session whose row key goes
// away: it merged into another session, or its start moved.
func (t *Task) retract(g *group) {
	if !g.emitted {
		return
	}
	t.groupRow(g)
	g.emitted = false
	t.writeOut(t.aggRow, g.key, true)
}

// dropGroup removes a session from state (merged into another, or closed).
func (t *Task) dropGroup(g *group) {
	g.gone = true
	delete(t.groups, g.key)
	t.forget(g)
	if g.hidx >= 0 && g.hidx < len(t.sessQ) && t.sessQ[g.hidx] == g {
		heap.Remove(&t.sessQ, g.hidx)
	}
}

func (t *Task) addGroup(g *group) {
	t.groups[g.key] = g
	switch t.plan.Window.Kind {
	case NoWindow:
		return
	case Session:
		if g.sessKey == "" {
			g.sessKey = g.key[16:]
		}
		t.sessions[g.sessKey] = append(t.sessions[g.sessKey], g)
		g.due = t.sessionDue(g)
		heap.Push(&t.sessQ, g)
		return
	}
	end := g.span.End
	t.byEnd[end] = append(t.byEnd[end], g)
	if !t.cleanQueued[end] {
		t.cleanQueued[end] = true
		heap.Push(&t.cleanQ, end)
	}
	if !g.fired && !t.fireQueued[end] {
		t.fireQueued[end] = true
		heap.Push(&t.fireQ, end)
	}
}

// fire emits the windows the watermark has passed and drops the state of
// those past their late-update time.
func (t *Task) fire() {
	lat := t.plan.AllowedLateness
	if t.plan.Window.Kind == Session {
		for len(t.sessQ) > 0 && t.sessQ[0].due <= t.wm {
			g := t.sessQ[0]
			switch {
			case !g.fired && t.plan.Late == LateUpdate:
				// Fired, and kept for late records until LateFor passes.
				t.emitGroup(g)
				g.fired = true
				g.due = t.sessionDue(g)
				heap.Fix(&t.sessQ, 0)
				t.markDirty(g)
				continue
			case !g.fired || g.changed:
				t.emitGroup(g)
			}
			t.dropGroup(g)
			open := t.sessions[g.sessKey]
			if i := slices.Index(open, g); i >= 0 {
				open = slices.Delete(open, i, i+1)
			}
			if len(open) == 0 {
				delete(t.sessions, g.sessKey)
			} else {
				t.sessions[g.sessKey] = open
			}
		}
		return
	}
	for len(t.fireQ) > 0 && t.fireQ[0]+lat <= t.wm {
		end := heap.Pop(&t.fireQ).(int64)
		delete(t.fireQueued, end)
		for _, g := range t.byEnd[end] {
			if g.gone || g.fired {
				continue
			}
			g.fired = true
			t.emitGroup(g)
			t.markDirty(g)
		}
	}
	keep := lat + t.plan.LateFor
	for len(t.cleanQ) > 0 && t.cleanQ[0]+keep <= t.wm {
		end := heap.Pop(&t.cleanQ).(int64)
		for _, g := range t.byEnd[end] {
			if g.gone {
				continue
			}
			if g.changed {
				t.emitGroup(g)
			}
			g.gone = true
			delete(t.groups, g.key)
			t.forget(g)
		}
		delete(t.byEnd, end)
		delete(t.cleanQueued, end)
	}
}

// emitEarly emits the current rows of open windows that changed (EMIT EVERY).
func (t *Task) emitEarly() {
	// Only the groups changed since the last early emission: the cost is
	// the change, not the number of open windows.
	early := t.early
	t.early = nil
	t.earlyGen++
	for _, g := range early {
		if g.changed && !g.gone && !g.fired {
			t.emitGroup(g)
		}
	}
}

// emitGroup writes g's row: appended, or as an upsert (or a retraction
// when HAVING no longer holds) for upsert views.
func (t *Task) emitGroup(g *group) {
	plan := t.plan
	if plan.TopN != nil {
		t.emitTop(g, false)
		return
	}
	t.groupRow(g)
	// Emitting changes only flags (changed, emitted) that a restart
	// recomputes (checkReplay), so it does not make g's state dirty.
	g.changed = false
	empty := t.emptied(g)
	keep := !empty && (plan.Having == nil || True(plan.Having.Eval(t.aggRow)))
	if empty {
		// Its last changelog row left: the group is no more.
		g.gone = true
		delete(t.groups, g.key)
		t.forget(g)
	}
	if !plan.Upsert() {
		if keep {
			t.writeOut(t.aggRow, "", false)
		}
		return
	}
	switch {
	case keep:
		g.emitted = true
		t.writeOut(t.aggRow, g.key, false)
	case g.emitted:
		g.emitted = false
		t.writeOut(t.aggRow, g.key, true)
	}
}

// groupRow sets t.aggRow to g's key values, window and aggregates.
func (t *Task) groupRow(g *group) {
	t.aggRow = append(t.aggRow[:0], g.keyVals...)
	if t.plan.Window.Kind != NoWindow {
		t.aggRow = append(t.aggRow, schema.Value{Int: g.span.Start}, schema.Value{Int: g.span.End})
	}
	for _, a := range g.accs {
		t.aggRow = append(t.aggRow, a.Result())
	}
}

func (t *Task) emitStateless(row Row, ts int64, span *Span) {
	plan := t.plan
	if plan.Window.Kind == NoWindow {
		t.writeOut(row, "", false)
		return
	}
	n := len(plan.RowColumns())
	if span != nil {
		t.spans = append(t.spans[:0], *span)
	} else {
		t.spans = plan.Window.Assign(t.spans[:0], ts)
	}
	for _, s := range t.spans {
		row[n] = schema.Value{Int: s.Start}
		row[n+1] = schema.Value{Int: s.End}
		t.writeOut(row, "", false)
	}
}

// writeOut projects row and appends it to the output chunk.
func (t *Task) writeOut(row Row, key string, deleted bool) {
	t.writeRow(t.plan.Project, row, key, deleted)
}

// writeRow is writeOut with the given projection.
func (t *Task) writeRow(project []Expr, row Row, key string, deleted bool) {
	if t.replaying {
		return // committed before the crash
	}
	t.outVals = t.outVals[:0]
	for i := range project {
		t.outVals = append(t.outVals, project[i].Eval(row))
	}
	if t.plan.Upsert() {
		t.hexKey = hex.AppendEncode(t.hexKey[:0], []byte(key))
		t.outVals = append(t.outVals, schema.Value{Bytes: t.hexKey}, schema.Value{Int: b2i(deleted)})
	}
	t.recBuf = schema.EncodeRow(t.outCols, t.recBuf[:0], t.outVals)
	t.out = wlog.AppendRecord(t.out, t.recBuf)
	t.outN++
	t.counts.Out++
	t.sinceSnapshot++
}

// rewriteChangelog writes every group's current row after the rows of
// this commit and moves the output floor to them, once the changelog has
// grown well past the number of groups (continuous aggregates only).
func (t *Task) rewriteChangelog() error {
	rows := len(t.groups) // the table's rows: one per group, or a Top-N's kept rows
	if t.plan.TopN != nil {
		rows = t.topShown
	}
	if !t.plan.Upsert() || t.plan.Window.Kind != NoWindow ||
		t.sinceSnapshot <= max(4*int64(rows), int64(t.opts.ChangelogLimit)) {
		return nil
	}
	end, err := t.opts.Log.End(t.opts.OutputStream, 0)
	if err != nil {
		return err
	}
	floor := end + int64(t.outN)
	for _, g := range t.groups {
		switch {
		case g.gone:
		case t.plan.TopN != nil:
			t.emitTop(g, true)
		default:
			t.emitGroup(g)
		}
	}
	t.outFloor, t.sinceSnapshot = floor, 0
	return nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// commit makes the processed input, the state changes and the outputs
// durable in one log write.
func (t *Task) commit(ctx context.Context) error {
	mode := commitOnly
	if t.opts.Now().Sub(t.lastCkpt) >= t.opts.CheckpointInterval {
		mode = checkpointStart
	}
	return t.commitCheckpoint(ctx, mode)
}

// How a commit treats the state checkpoint.
const (
	commitOnly      = iota // outputs and position
	checkpointStart        // also start a checkpoint, written in chunks between rounds
	checkpointFull         // also write a complete checkpoint of the state as of now
)

// startCheckpoint captures the state changed since the last checkpoint
// (and what left it) as a new epoch's entries, to be written in chunks.
// Only commitCheckpoint calls it, while building a commit: the entries it
// deletes belong to windows whose close (and row) that commit or an
// earlier one carries, so no crash can need them again.
func (t *Task) startCheckpoint() {
	j := &checkpointJob{epoch: t.epoch + 1, offsets: slices.Clone(t.offsets)}
	if t.job != nil {
		j.epoch = t.job.epoch + 1
	}
	for _, g := range t.dirty {
		if g.gone {
			continue
		}
		if g.storedEpoch > 0 {
			// Superseded once this epoch is live.
			t.obsolete = append(t.obsolete, t.entryKey(g, g.storedEpoch))
		}
		g.storedEpoch = j.epoch
		j.puts = append(j.puts, wlog.Put{Key: t.entryKey(g, j.epoch), Value: t.encodeGroup(g)})
	}
	// Entries of groups that left the state, and those a live checkpoint
	// superseded, are dead whatever happens to this checkpoint.
	j.deletes = append(t.deleted, t.obsoleteDone...)
	t.deleted, t.obsoleteDone = nil, nil
	t.dirtyGen++
	t.dirty = t.dirty[:0]
	t.lastCkpt = t.opts.Now()
	t.job = j
}

// writeChunk writes the next chunk of the checkpoint in progress.
func (t *Task) writeChunk(ctx context.Context) error {
	j := t.job
	w := &wlog.Write{}
	j.chunk(w, t.opts.CheckpointChunk)
	if len(w.Puts)+len(w.Deletes) > 0 {
		if _, err := t.opts.Log.Append(ctx, w); err != nil {
			return fmt.Errorf("view %q: cannot write its checkpoint: %w", t.plan.Name, err)
		}
	}
	if j.next == j.size() {
		j.written = true
		t.uncommitted = true // the next commit makes the epoch live
	}
	return nil
}

// commitCheckpoint commits the outputs and the position, and per mode
// starts or completes a checkpoint. A checkpoint whose chunks are all
// durable becomes live with the first commit after them: the position
// then names its epoch and the input offsets its state reflects.
func (t *Task) commitCheckpoint(ctx context.Context, mode int) error {
	if t.replaying {
		// Nothing was produced that is not committed already; keep
		// replaying before writing a position.
		return nil
	}
	if t.opts.Stage.Kind == StagePartial {
		return t.commitPartial(ctx)
	}
	if t.plan.Window.Kind == Session || t.plan.Join != nil || t.plan.Input.Changelog {
		// A session's end moves: a stale stored end could not tell whether
		// the session fired before a crash, so sessions checkpoint
		// completely at every commit. A join's matches depend on the
		// watermark at each record, which a replay could not reproduce: its
		// state is checkpointed at every commit too (only what changed). A
		// changelog reader deletes the entries of keys and groups that
		// went away: a replay from an older checkpoint would need them.
		mode = checkpointFull
	}
	// A changelog rewrite first: it emits every group, so the loop below
	// then finds no changed group to emit twice.
	if err := t.rewriteChangelog(); err != nil {
		return err
	}
	switch {
	case t.plan.Aggregating && t.plan.Window.Kind == NoWindow:
		// Continuous aggregates: every group that changed gets its new row.
		for _, g := range t.changed {
			if g.changed {
				t.emitGroup(g)
			}
		}
	case t.plan.Late == LateUpdate:
		// Fired windows that late records changed: emit their new rows.
		for _, g := range t.changed {
			if g.fired && g.changed && !g.gone {
				t.emitGroup(g)
			}
		}
	}
	if t.merging() && t.counts.Out == int64(t.outN) && t.plan.Upsert() && t.plan.Window.Kind == NoWindow {
		// A merge task that had written no row has none below the
		// output's end: its floor must not hold back the trimming of the
		// others' rows (the view's floor is the least of its tasks').
		end, err := t.opts.Log.End(t.opts.OutputStream, 0)
		if err != nil {
			return err
		}
		t.outFloor = end
	}
	w := &wlog.Write{}
	if t.outN > 0 {
		w.Chunks = append(w.Chunks, wlog.Chunk{Stream: t.opts.OutputStream, Meta: 1, Count: t.outN, Payload: t.out})
	}
	if t.plan.Join != nil {
		t.joinSegments(w)
	}
	if t.lateN > 0 {
		w.Chunks = append(w.Chunks, wlog.Chunk{Stream: t.opts.LateStream, Meta: t.plan.LateVersion(), Count: t.lateN, Payload: t.late})
	}
	var live *checkpointJob // the checkpoint this commit makes live
	switch {
	case mode == checkpointFull:
		// Whatever is in progress, and then the state as of now, all in
		// this one write.
		if t.job != nil {
			t.job.chunk(w, t.job.size())
		}
		t.startCheckpoint()
		t.job.chunk(w, t.job.size())
		live = t.job
	case t.job != nil && t.job.written:
		live = t.job
	case t.job == nil && mode == checkpointStart:
		t.startCheckpoint()
	}
	stateBytes := 0
	for _, p := range w.Puts {
		stateBytes += len(p.Key) + len(p.Value)
	}
	epoch, checkpoint := t.epoch, t.checkpoint
	if live != nil {
		epoch, checkpoint = live.epoch, live.offsets
	}
	pos, err := json.Marshal(position{Offsets: t.offsets, MaxTs: t.maxTs, Wm: t.wm, Counts: t.counts,
		Checkpoint: checkpoint, Epoch: epoch, Format: stateFormat, OutFloor: t.outFloor, SinceSnapshot: t.sinceSnapshot,
		Marks: t.marks, MarkIdle: t.markIdles, MarkOffs: t.markOffs})
	if err != nil {
		return err
	}
	w.Puts = append(w.Puts, wlog.Put{Key: t.posKey(), Value: pos})
	if _, err := t.opts.Log.Append(ctx, w); err != nil {
		return fmt.Errorf("view %q: cannot commit: %w", t.plan.Name, err)
	}
	t.changedGen++
	t.changed = t.changed[:0]
	if live != nil {
		t.epoch, t.checkpoint = live.epoch, live.offsets
		t.obsoleteDone = append(t.obsoleteDone, t.obsolete...)
		t.obsolete = nil
		t.job = nil
		t.trimRepart()
	}
	t.out, t.outN = t.out[:0], 0
	t.late, t.lateN = t.late[:0], 0
	t.uncommitted = false
	t.committedWm = t.wm
	t.publish()
	t.observe(stateBytes)
	return nil
}

// publish makes the committed progress visible to Stats.
func (t *Task) publish() {
	st := Stats{Groups: len(t.groups) + t.join.rows, Counts: t.counts, Offsets: slices.Clone(t.offsets), Checkpoint: slices.Clone(t.checkpoint), Live: t.live, OutFloor: t.outFloor,
		WatermarkMicros: t.committedWm, Idle: !slices.Contains(t.idle, false)}
	if t.merging() {
		st.Idle = len(t.markIdles) > 0 && !slices.Contains(t.markIdles, false)
	}
	if t.replayUntil != nil {
		st.Offsets = slices.Clone(t.replayUntil) // what is committed
	}
	if t.committedWm != math.MinInt64 {
		st.Watermark = time.UnixMicro(t.committedWm).UTC()
	}
	t.published.Store(&st)
}

func (t *Task) observe(stateBytes int) {
	m := t.opts.Metrics
	if m == nil {
		return
	}
	v := t.plan.Name
	c, r := t.counts, t.reported
	m.RowsIn.WithLabelValues(v).Add(float64(c.In - r.In))
	m.RowsOut.WithLabelValues(v).Add(float64(c.Out - r.Out))
	m.Late.WithLabelValues(v, "dropped").Add(float64(c.LateDropped - r.LateDropped))
	m.Late.WithLabelValues(v, "side_output").Add(float64(c.LateKept - r.LateKept))
	m.Late.WithLabelValues(v, "updated").Add(float64(c.LateUpdated - r.LateUpdated))
	t.reported = c
	m.StateBytes.WithLabelValues(v).Add(float64(stateBytes))
	if t.opts.Stage.Kind != StageWhole {
		return // the job sets the view's gauges
	}
	m.StateGroups.WithLabelValues(v).Set(float64(len(t.groups) + t.join.rows))
	if t.wm != math.MinInt64 {
		m.Watermark.WithLabelValues(v).Set(float64(t.wm) / 1e6)
	}
	lag := int64(0)
	for p, off := range t.offsets {
		if end, err := t.end(p); err == nil {
			lag += end - off
		}
	}
	m.Lag.WithLabelValues(v).Set(float64(lag))
}

// encodeGroup is a group's state value: flags, then each accumulator.
func (t *Task) encodeGroup(g *group) []byte {
	if g.jr != nil {
		return t.encodeJoinRow(g)
	}
	if g.ur != nil {
		return slices.Clone(g.ur)
	}
	return t.appendGroupState(nil, g)
}

// appendGroupState appends an aggregate group's state value to v.
func (t *Task) appendGroupState(v []byte, g *group) []byte {
	var flags byte
	if g.fired {
		flags |= 1
	}
	if g.emitted {
		flags |= 2
	}
	if g.changed {
		flags |= 4
	}
	v = append(v, flags)
	if t.plan.Window.Kind == Session {
		v = binary.AppendVarint(v, g.span.End)
	}
	for _, a := range g.accs {
		v = a.AppendState(v)
	}
	return v
}

func (t *Task) loadGroup(key string, v []byte) (*group, error) {
	g := &group{key: key}
	k := []byte(key)
	if t.plan.Window.Kind != NoWindow {
		if len(k) < 16 {
			return nil, errors.New("short window key")
		}
		g.span.Start = int64(binary.BigEndian.Uint64(k) ^ (1 << 63))
		g.span.End = int64(binary.BigEndian.Uint64(k[8:]) ^ (1 << 63))
		k = k[16:]
	}
	vals, err := schema.DecodeRow(t.keyCols, k, nil)
	if err != nil {
		return nil, err
	}
	g.keyVals = vals // aliases key, which the group owns
	if len(v) < 1 {
		return nil, errBadState
	}
	g.fired, g.emitted, g.changed = v[0]&1 != 0, v[0]&2 != 0, v[0]&4 != 0
	v = v[1:]
	if t.plan.Window.Kind == Session {
		if v, err = loadVarint(v, &g.span.End); err != nil {
			return nil, err
		}
	}
	if g.accs, err = t.loadAccs(v); err != nil {
		return nil, err
	}
	return g, nil
}

// loadAccs decodes the accumulators that end a group's state value.
func (t *Task) loadAccs(v []byte) ([]Acc, error) {
	accs := make([]Acc, len(t.plan.Aggs))
	for i := range t.plan.Aggs {
		accs[i] = t.plan.Aggs[i].NewAcc()
		var err error
		if v, err = accs[i].LoadState(v); err != nil {
			return nil, err
		}
	}
	if len(v) != 0 {
		return nil, errBadState
	}
	return accs, nil
}

// rowMapper decodes records of one schema version into the layout of the
// current one (columns matched by name; missing ones are null).
type rowMapper struct {
	cols []schema.Column
	idx  []int // current column i ← version column idx[i], or -1; nil: identity
	vals []schema.Value
}

// mapper decodes records of schema version ver of input side.
func (t *Task) mapper(side int, ver uint32) (*rowMapper, error) {
	if m, ok := t.mappers[side][ver]; ok {
		return m, nil
	}
	in := &t.inputs[side]
	m := &rowMapper{cols: in.Columns}
	if ver != in.Version && in.SchemaFor != nil {
		s, err := in.SchemaFor(ver)
		if err != nil {
			return nil, err
		}
		m.cols = s.Columns
		m.idx = make([]int, len(in.Columns))
		for i, c := range in.Columns {
			m.idx[i] = s.ColumnIndex(c.Name)
		}
	}
	t.mappers[side][ver] = m
	return m, nil
}

func (m *rowMapper) decode(rec []byte, row Row) error {
	var err error
	if m.idx == nil {
		_, err = schema.DecodeRow(m.cols, rec, row[:0])
		return err
	}
	m.vals, err = schema.DecodeRow(m.cols, rec, m.vals)
	if err != nil {
		return err
	}
	for i, j := range m.idx {
		if j < 0 {
			row[i] = schema.Value{Null: true}
		} else {
			row[i] = m.vals[j]
		}
	}
	return nil
}

// Stats reports the task's progress as of its last commit (zero before
// it restored). Safe for concurrent use.
func (t *Task) Stats() Stats {
	if st := t.published.Load(); st != nil {
		return *st
	}
	return Stats{WatermarkMicros: math.MinInt64}
}

// sessionHeap orders open sessions by end.
type sessionHeap []*group

func (h sessionHeap) Len() int           { return len(h) }
func (h sessionHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h sessionHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}
func (h *sessionHeap) Push(x any) {
	g := x.(*group)
	g.hidx = len(*h)
	*h = append(*h, g)
}
func (h *sessionHeap) Pop() any {
	old := *h
	g := old[len(old)-1]
	g.hidx = -1
	*h = old[:len(old)-1]
	return g
}

type int64Heap []int64

func (h int64Heap) Len() int           { return len(h) }
func (h int64Heap) Less(i, j int) bool { return h[i] < h[j] }
func (h int64Heap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *int64Heap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *int64Heap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
