package lake

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/hadoop"
	"github.com/apache/iceberg-go/table"
	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/weirhq/weir/internal/failpoint"
	wlog "github.com/weirhq/weir/internal/log"
	"github.com/weirhq/weir/internal/schema"
)

// Namespace is the Iceberg namespace of Weir's tables.
const Namespace = "weir"

// Snapshot property keys written with every commit.
const (
	PropOffsets = "weir.offsets" // JSON array: next log offset per partition
	PropStream  = "weir.stream"
)

// Options configure a Writer.
type Options struct {
	Warehouse  string // the lake directory (an Iceberg hadoop-catalog warehouse)
	Table      string
	Stream     string
	Partitions int
	Schema     *schema.Schema
	// SchemaFor returns the schema of a stored schema version, for chunks
	// written under an older version. Nil: every chunk uses Schema.
	SchemaFor   func(version uint32) (*schema.Schema, error)
	SchemaVer   uint32
	EventCol    int // the event-time column, which partitions the table by hour
	MaxRows     int
	MaxBytes    int64
	Interval    time.Duration
	Log         wlog.Log
	Metrics     *Metrics
	Logger      *slog.Logger
	ReadBytes   int // log read size per partition per round; default 4 MiB
	RowGroupMax int64
	// SnapshotMaxAge is how long a snapshot stays in the table's metadata
	// (for time travel) after a newer one; the newest 10 always stay.
	// Default 1 hour. Without expiry every commit (one per roll, 10 s by
	// default) adds a snapshot that every later metadata file repeats.
	SnapshotMaxAge time.Duration
}

// minSnapshots is how many of the newest snapshots expiry always keeps.
const minSnapshots = 10

// Metrics are the lake's Prometheus metrics, labelled by table.
type Metrics struct {
	RowsCommitted  *prometheus.CounterVec
	FilesCommitted *prometheus.CounterVec
	BytesCommitted *prometheus.CounterVec
	CommitSeconds  *prometheus.HistogramVec
	LagRecords     *prometheus.GaugeVec   // records in the log not yet committed
	FilesCompacted *prometheus.CounterVec // small files merged away by Compact; may be nil
}

// State is what a table holds as of one commit: its files and the log
// offsets they cover. Serving reads committed files plus the log from
// Offsets on. A State is immutable.
type State struct {
	Table      string
	SnapshotID int64
	Files      []string // local paths of the data files
	Hours      []int32  // Files[i] holds rows of event hour Hours[i] (hours since the epoch)
	TimeColumn string   // the event-time column the table is partitioned by
	Offsets    []int64  // per partition: records below are in Files
	Rows       int64
	Committed  time.Time // when the snapshot was committed (zero: none yet)
}

// Writer appends a stream to its table.
type Writer struct {
	opts  Options
	cat   *hadoop.Catalog
	ident table.Identifier
	tbl   *table.Table
	spec  iceberg.PartitionSpec
	dir   string // local table location
	state atomic.Pointer[State]

	pos     []int64 // read position per partition
	buf     *buffer
	started time.Time // when the first buffered row arrived

	mu       sync.Mutex
	commitMu sync.Mutex // one commit at a time
	changed  chan struct{}
}

// Open loads the table, creating it on first use, and recovers: it resumes
// from the offsets of the current snapshot and deletes data files that no
// snapshot references (left by a crash between writing and committing).
func Open(ctx context.Context, opts Options) (*Writer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ReadBytes == 0 {
		opts.ReadBytes = 4 << 20
	}
	if opts.RowGroupMax == 0 {
		opts.RowGroupMax = 256 << 10
	}
	if opts.SnapshotMaxAge == 0 {
		opts.SnapshotMaxAge = time.Hour
	}
	if err := os.MkdirAll(opts.Warehouse, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create lake directory %q: %w", opts.Warehouse, err)
	}
	cat, err := hadoop.NewCatalog("weir", opts.Warehouse, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot open the lake catalog in %q: %w", opts.Warehouse, err)
	}
	w := &Writer{opts: opts, cat: cat, ident: table.Identifier{Namespace, opts.Table}, changed: make(chan struct{})}
	if err := w.load(ctx); err != nil {
		return nil, err
	}
	w.buf = newBuffer(opts.Schema.Columns, opts.EventCol)
	return w, nil
}

// IcebergSchema maps a stream schema to an Iceberg schema; field IDs are
// 1-based column positions.
func IcebergSchema(s *schema.Schema) *iceberg.Schema {
	fields := make([]iceberg.NestedField, len(s.Columns))
	for i, c := range s.Columns {
		var t iceberg.Type
		switch c.Type {
		case schema.String:
			t = iceberg.PrimitiveTypes.String
		case schema.Int64:
			t = iceberg.PrimitiveTypes.Int64
		case schema.Float64:
			t = iceberg.PrimitiveTypes.Float64
		case schema.Bool:
			t = iceberg.PrimitiveTypes.Bool
		case schema.Timestamp:
			t = iceberg.PrimitiveTypes.TimestampTz
		}
		fields[i] = iceberg.NestedField{ID: i + 1, Name: c.Name, Type: t, Required: c.Required && !c.Nullable}
	}
	return iceberg.NewSchema(0, fields...)
}

const hourFieldID = 1000

func (w *Writer) load(ctx context.Context) error {
	o := w.opts
	exists, err := w.cat.CheckTableExists(ctx, w.ident)
	if err != nil {
		return fmt.Errorf("cannot look up table %q: %w", o.Table, err)
	}
	if !exists {
		if err := w.cat.CreateNamespace(ctx, table.Identifier{Namespace}, nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
			return fmt.Errorf("cannot create lake namespace: %w", err)
		}
		spec := iceberg.NewPartitionSpec(iceberg.PartitionField{
			SourceIDs: []int{o.EventCol + 1}, FieldID: hourFieldID,
			Name: o.Schema.Columns[o.EventCol].Name + "_hour", Transform: iceberg.HourTransform{},
		})
		_, err := w.cat.CreateTable(ctx, w.ident, IcebergSchema(o.Schema),
			catalog.WithPartitionSpec(&spec),
			catalog.WithProperties(iceberg.Properties{
				table.ParquetCompressionKey:               "zstd",
				table.ManifestMergeEnabledKey:             "true",
				table.MetadataDeleteAfterCommitEnabledKey: "true",
				table.MetadataPreviousVersionsMaxKey:      "20",
				PropStream:                                o.Stream,
			}))
		if err != nil {
			return fmt.Errorf("cannot create table %q: %w", o.Table, err)
		}
	}
	tbl, err := w.cat.LoadTable(ctx, w.ident)
	if err != nil {
		return fmt.Errorf("cannot load table %q: %w", o.Table, err)
	}
	w.tbl = tbl
	w.spec = tbl.Spec()
	w.dir = strings.TrimPrefix(tbl.Location(), "file://")
	if got := tbl.Schema(); !sameColumns(got, IcebergSchema(o.Schema)) {
		return fmt.Errorf("table %q has columns %s but stream %q has %s; schema evolution of lake tables is not supported yet: "+
			"restore the old schema, or write to a new table (sinks.<name>.table)", o.Table, columnList(got), o.Stream, columnList(IcebergSchema(o.Schema)))
	}

	offsets := make([]int64, o.Partitions)
	files := []string{}
	var hours []int32
	var rows int64
	var snapID int64
	if snap := tbl.CurrentSnapshot(); snap != nil {
		snapID = snap.SnapshotID
		if snap.Summary != nil {
			if v, ok := snap.Summary.Properties[PropOffsets]; ok {
				var got []int64
				if err := json.Unmarshal([]byte(v), &got); err != nil {
					return fmt.Errorf("table %q: snapshot %d has an unreadable %s: %w", o.Table, snap.SnapshotID, PropOffsets, err)
				}
				if len(got) != o.Partitions {
					return fmt.Errorf("table %q covers %d log partitions, stream %q has %d", o.Table, len(got), o.Stream, o.Partitions)
				}
				offsets = got
			}
		}
		tasks, err := tbl.Scan().PlanFiles(ctx)
		if err != nil {
			return fmt.Errorf("cannot list the files of table %q: %w", o.Table, err)
		}
		for _, t := range tasks {
			files = append(files, strings.TrimPrefix(t.File.FilePath(), "file://"))
			h, _ := t.File.Partition()[hourFieldID].(int32)
			hours = append(hours, h)
			rows += t.File.Count()
		}
	}
	for p, off := range offsets {
		end, err := o.Log.End(o.Stream, p)
		if err != nil {
			return err
		}
		if off > end {
			return fmt.Errorf("table %q has committed stream %q partition %d up to offset %d, but the log ends at %d: "+
				"the log in this data directory is not the one the table was written from; restore the matching log, "+
				"or remove %s to write the table again from this log", o.Table, o.Stream, p, off, end,
				filepath.Join(o.Warehouse, Namespace, o.Table))
		}
	}
	referenced, err := snapshotFiles(ctx, tbl)
	if err != nil {
		return fmt.Errorf("cannot list the files of table %q: %w", o.Table, err)
	}
	if err := w.removeOrphans(referenced); err != nil {
		return err
	}
	w.pos = slices.Clone(offsets)
	var committed time.Time
	if snap := w.tbl.CurrentSnapshot(); snap != nil {
		committed = time.UnixMilli(snap.TimestampMs)
	}
	w.state.Store(&State{Table: o.Table, SnapshotID: snapID, Files: files, Hours: hours, TimeColumn: o.Schema.Columns[o.EventCol].Name,
		Offsets: offsets, Rows: rows, Committed: committed})
	return nil
}

func sameColumns(a, b *iceberg.Schema) bool {
	af, bf := a.Fields(), b.Fields()
	if len(af) != len(bf) {
		return false
	}
	for i := range af {
		if af[i].Name != bf[i].Name || !af[i].Type.Equals(bf[i].Type) || af[i].ID != bf[i].ID {
			return false
		}
	}
	return true
}

func columnList(s *iceberg.Schema) string {
	var parts []string
	for _, f := range s.Fields() {
		parts = append(parts, f.Name+" "+f.Type.String())
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// removeOrphans deletes data files under the table that the current
// snapshot does not reference: files of an attempt that crashed before its
// commit. Their records are still ahead in the log.
func (w *Writer) removeOrphans(committed []string) error {
	keep := make(map[string]bool, len(committed))
	for _, f := range committed {
		keep[filepath.Clean(f)] = true
	}
	dataDir := filepath.Join(w.dir, "data")
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || keep[filepath.Clean(path)] {
			return nil
		}
		w.opts.Logger.Info("removing a data file no snapshot references (left by an interrupted commit)", "table", w.opts.Table, "file", path)
		return os.Remove(path)
	})
	if err != nil {
		return fmt.Errorf("cannot clean uncommitted files of table %q: %w", w.opts.Table, err)
	}
	return nil
}

// State returns the table's latest committed state.
func (w *Writer) State() *State { return w.state.Load() }

// Changed returns a channel closed at the next commit.
func (w *Writer) Changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed
}

// Run copies the stream into the table until ctx ends, then commits what it
// has buffered and returns. It returns early only on an error that retrying
// cannot fix.
func (w *Writer) Run(ctx context.Context) error {
	tick := time.NewTicker(w.opts.Interval / 4)
	defer tick.Stop()
	backoff := 100 * time.Millisecond
	stop := func() error {
		if _, _, err := w.readRound(); err != nil {
			return err
		}
		return w.Flush(context.WithoutCancel(ctx))
	}
	// Under full load records arrive every few milliseconds. Reading them
	// as they come makes many small reads, each a seek through every level
	// of the log; a pause of roundGap between rounds that found records
	// makes them fewer and larger, which a file that rolls every Interval
	// does not notice.
	roundGap := min(w.opts.Interval/16, 25*time.Millisecond)
	for {
		notify := w.opts.Log.Notify(w.opts.Stream)
		n, capped, err := w.readRound()
		if err != nil {
			return err
		}
		if w.shouldRoll() {
			if err := w.Flush(context.WithoutCancel(ctx)); err != nil {
				w.opts.Logger.Error("lake commit failed; retrying", "table", w.opts.Table, "err", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return w.Flush(context.WithoutCancel(ctx))
				}
				backoff = min(backoff*2, 30*time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
		}
		w.updateLag()
		if n > 0 && !w.bufferFull() {
			if !capped { // more may be waiting; when a read was cut at ReadBytes, it is
				select {
				case <-ctx.Done():
					return stop()
				case <-time.After(roundGap):
				}
			}
			continue
		}
		select {
		case <-ctx.Done():
			return stop()
		case <-notify:
		case <-tick.C:
		}
	}
}

func (w *Writer) bufferFull() bool {
	return w.buf.rows >= w.opts.MaxRows || w.buf.bytes >= w.opts.MaxBytes
}

func (w *Writer) shouldRoll() bool {
	if w.buf.rows == 0 {
		return false
	}
	return w.bufferFull() || time.Since(w.started) >= w.opts.Interval
}

// readRound reads what is available from every partition, up to the roll
// size, and returns the number of records buffered, and whether a
// partition's read stopped at ReadBytes (more is waiting).
func (w *Writer) readRound() (total int, capped bool, err error) {
	for p := range w.pos {
		if w.bufferFull() {
			break
		}
		if end, err := w.opts.Log.End(w.opts.Stream, p); err == nil && end <= w.pos[p] {
			continue // nothing new: spare the read its seek
		}
		// The rows are copied into the buffer's columns as they are read:
		// the batches need no copy of their own.
		read := 0
		var berr error
		err := w.opts.Log.ReadFunc(w.opts.Stream, p, w.pos[p], w.opts.ReadBytes, func(b wlog.Batch) bool {
			read += len(b.Payload)
			n, err := w.addBatch(p, &b)
			total += n
			berr = err
			return err == nil
		})
		if err != nil {
			return total, capped, fmt.Errorf("cannot read stream %q partition %d at offset %d: %w", w.opts.Stream, p, w.pos[p], err)
		}
		if berr != nil {
			return total, capped, berr
		}
		capped = capped || read >= w.opts.ReadBytes
		if total > 0 && w.started.IsZero() {
			w.started = time.Now()
		}
	}
	return total, capped, nil
}

func (w *Writer) addBatch(p int, b *wlog.Batch) (int, error) {
	cols := w.opts.Schema.Columns
	if w.opts.SchemaFor != nil && b.Meta != w.opts.SchemaVer {
		s, err := w.opts.SchemaFor(b.Meta)
		if err != nil {
			return 0, err
		}
		cols = s.Columns
	}
	from, n := w.pos[p], 0
	var rerr error
	err := b.Records(func(off int64, rec []byte) bool {
		if off < from {
			return true
		}
		if rerr = w.buf.add(cols, rec); rerr != nil {
			rerr = fmt.Errorf("stream %q partition %d offset %d: %w", w.opts.Stream, p, off, rerr)
			return false
		}
		n++
		return true
	})
	// The decoded values point into b's payload, which is the log's
	// buffer: let it go.
	clear(w.buf.vals)
	if err == nil {
		err = rerr
	}
	if err != nil {
		return n, err
	}
	w.pos[p] = b.End()
	return n, nil
}

func (w *Writer) updateLag() {
	if w.opts.Metrics == nil {
		return
	}
	st := w.State()
	var lag int64
	for p, off := range st.Offsets {
		end, err := w.opts.Log.End(w.opts.Stream, p)
		if err == nil {
			lag += end - off
		}
	}
	w.opts.Metrics.LagRecords.WithLabelValues(w.opts.Table).Set(float64(lag))
}

// Flush writes and commits everything buffered. Run calls it; it is exported
// for tests and tools.
func (w *Writer) Flush(ctx context.Context) error {
	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	if w.buf.rows == 0 {
		return nil
	}
	start := time.Now()
	prev := w.State()
	name := fileStem(w.opts.Stream, prev.Offsets)
	var dfs []iceberg.DataFile
	var paths []string
	var hours []int32
	var bytes int64
	for _, hour := range w.buf.hours() {
		b := w.buf.byHour[hour]
		dir := filepath.Join(w.dir, "data", w.spec.Field(0).Name+"="+hourString(hour))
		path := filepath.Join(dir, fmt.Sprintf("%s-h%d.parquet", name, hour))
		st, err := writeParquet(path, w.opts.Schema.Columns, b, w.opts.RowGroupMax)
		if err != nil {
			w.cleanup(paths, path)
			return fmt.Errorf("table %q: %w", w.opts.Table, err)
		}
		df, err := w.dataFile(path, hour, st)
		if err != nil {
			w.cleanup(paths, path)
			return err
		}
		dfs = append(dfs, df)
		paths = append(paths, path)
		hours = append(hours, hour)
		bytes += st.size
	}
	offsets := slices.Clone(w.pos)
	offJSON, _ := json.Marshal(offsets)
	tx := w.tbl.NewTransaction()
	if err := tx.AddDataFiles(ctx, dfs, iceberg.Properties{PropOffsets: string(offJSON), PropStream: w.opts.Stream}, table.WithoutDuplicateCheck()); err != nil {
		w.cleanup(paths, "")
		return fmt.Errorf("table %q: cannot stage the commit: %w", w.opts.Table, err)
	}
	failpoint.Hit(failpoint.LakeBeforeCommit)
	tbl, err := tx.Commit(ctx)
	if err == nil {
		failpoint.Hit(failpoint.LakeAfterCommit)
	}
	if err != nil {
		// The commit may or may not have landed (an ambiguous failure):
		// reload and compare offsets before deciding.
		if rerr := w.tbl.Refresh(ctx); rerr == nil {
			if snap := w.tbl.CurrentSnapshot(); snap != nil && snap.Summary != nil && snap.Summary.Properties[PropOffsets] == string(offJSON) {
				tbl, err = w.tbl, nil
			}
		}
		if err != nil {
			w.cleanup(paths, "")
			return fmt.Errorf("table %q: commit failed: %w", w.opts.Table, err)
		}
	}
	if err := syncFS(w.opts.Warehouse); err != nil {
		return fmt.Errorf("table %q: cannot sync the lake after commit: %w", w.opts.Table, err)
	}
	w.tbl = tbl
	if err := w.expire(ctx); err != nil {
		// The commit stands; expiry runs again after the next one.
		w.opts.Logger.Warn("cannot expire old snapshots", "table", w.opts.Table, "error", err)
	}
	rows := int64(w.buf.rows)
	files := append(slices.Clone(prev.Files), paths...)
	next := &State{Table: w.opts.Table, SnapshotID: tbl.CurrentSnapshot().SnapshotID, Files: files, TimeColumn: prev.TimeColumn,
		Hours: append(slices.Clone(prev.Hours), hours...), Offsets: offsets, Rows: prev.Rows + rows,
		Committed: time.UnixMilli(tbl.CurrentSnapshot().TimestampMs)}
	w.state.Store(next)
	w.buf.reset()
	w.started = time.Time{}
	w.mu.Lock()
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
	if m := w.opts.Metrics; m != nil {
		m.RowsCommitted.WithLabelValues(w.opts.Table).Add(float64(rows))
		m.FilesCommitted.WithLabelValues(w.opts.Table).Add(float64(len(paths)))
		m.BytesCommitted.WithLabelValues(w.opts.Table).Add(float64(bytes))
		m.CommitSeconds.WithLabelValues(w.opts.Table).Observe(time.Since(start).Seconds())
	}
	w.opts.Logger.Debug("lake commit", "table", w.opts.Table, "rows", rows, "files", len(paths), "bytes", bytes, "took", time.Since(start))
	return nil
}

// cleanup removes files of a failed attempt (best effort: Open removes any
// that remain).
// expire drops snapshots older than SnapshotMaxAge (keeping the newest
// minSnapshots) once the oldest is a tenth of SnapshotMaxAge past it, so
// that expiry runs now and then rather than after every commit. The table
// is append-only, so every data file stays referenced by the current
// snapshot; expiry deletes only manifest lists and merged-away manifests.
func (w *Writer) expire(ctx context.Context) error {
	snaps := w.tbl.Metadata().Snapshots()
	if len(snaps) <= minSnapshots {
		return nil
	}
	age := w.opts.SnapshotMaxAge
	oldest := time.UnixMilli(snaps[0].TimestampMs)
	if time.Since(oldest) < age+age/10 {
		return nil
	}
	tx := w.tbl.NewTransaction()
	if err := tx.ExpireSnapshots(table.WithOlderThan(age), table.WithRetainLast(minSnapshots)); err != nil {
		return err
	}
	tbl, err := tx.Commit(ctx)
	if err != nil {
		return err
	}
	w.tbl = tbl
	return syncFS(w.opts.Warehouse)
}

func (w *Writer) cleanup(paths []string, extra string) {
	for _, p := range append(paths, extra) {
		if p != "" {
			os.Remove(p)
		}
	}
}

// fileStem is the deterministic name of the files of a commit: a hash of
// the stream and the offsets the commit starts from, so a retried attempt
// writes the same names.
func fileStem(stream string, from []int64) string {
	h := xxhash.New()
	h.WriteString(stream)
	var b [8]byte
	for _, o := range from {
		binary.BigEndian.PutUint64(b[:], uint64(o))
		h.Write(b[:])
	}
	var sum int64
	for _, o := range from {
		sum += o
	}
	return fmt.Sprintf("%012d-%016x", sum, h.Sum64())
}

func hourString(hour int32) string {
	return time.Unix(int64(hour)*3600, 0).UTC().Format("2006-01-02-15")
}

func (w *Writer) dataFile(path string, hour int32, st *fileStats) (iceberg.DataFile, error) {
	b, err := iceberg.NewDataFileBuilder(w.spec, iceberg.EntryContentData, path, iceberg.ParquetFile,
		map[int]any{hourFieldID: hour}, nil, nil, st.rows, st.size)
	if err != nil {
		return nil, fmt.Errorf("table %q: cannot describe data file %q: %w", w.opts.Table, path, err)
	}
	b.ValueCounts(st.valueCounts).NullValueCounts(st.nullCounts).
		LowerBoundValues(st.lower).UpperBoundValues(st.upper)
	return b.Build(), nil
}

// syncFS flushes the filesystem holding dir: one call makes every file and
// directory iceberg-go wrote for the commit durable (it does not fsync).
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

// hourOf returns the hours since the epoch of a timestamp in µs.
func hourOf(us int64) int32 {
	h := us / 3_600_000_000
	if us < 0 && us%3_600_000_000 != 0 {
		h--
	}
	if h > math.MaxInt32 || h < math.MinInt32 {
		panic("BUG: timestamp outside the range the schema allows: " + strconv.FormatInt(us, 10))
	}
	return int32(h)
}
