// Package pebblelog is the embedded implementation of log.Log and log.Meta
// on one Pebble database in the node's data directory.
//
// Key layout (all big-endian, so keys sort by offset):
//
//	0x01 stream 0x00 partition(u32) baseOffset(u64)  ->  batch
//	0x02 key                                          ->  metadata value
//
// A batch value is: version byte (1), uvarint count, uvarint meta, varint
// append time (Unix ms), then the payload of framed records.
//
// Appends go through one committer goroutine: it takes every write queued
// while the previous sync ran, assigns offsets, and commits them in one
// synced Pebble batch (group commit). Offsets are assigned only by the
// committer, so they are dense and visible in order.
//
// This package must not import anything above internal/log.
package pebblelog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"

	wlog "github.com/weirhq/weir/internal/log"
)

const (
	prefixLog  = 0x01
	prefixMeta = 0x02
	version    = 1
)

// ErrLocked: another process (or another Log in this one) has the log
// open.
var ErrLocked = errors.New("the log is open in another process")

// Options configure the embedded log.
type Options struct {
	// MaxGroupBytes caps the bytes committed in one synced batch; a larger
	// group waits for the next sync. Default 64 MiB.
	MaxGroupBytes int
	// Metrics, when set, receives the append latency and size metrics.
	Metrics *Metrics
	// Now returns the wall clock; tests replace it. Default time.Now.
	Now func() time.Time
	// FS is the filesystem the log lives on; tests give it one that
	// simulates power loss (vfs.NewCrashableMem). Default: the disk.
	FS vfs.FS
	// MemTableSize is Pebble's memtable size; tests make it small to
	// have flushes. Default 64 MiB.
	MemTableSize uint64
}

// Metrics are the log's Prometheus metrics.
type Metrics struct {
	AppendSeconds prometheus.Histogram // one observation per group commit
	AppendBytes   prometheus.Counter
	GroupSize     prometheus.Histogram // writes per group commit
}

// Log is the Pebble-backed log. It implements log.Log and log.Meta.
type Log struct {
	db   *pebble.DB
	opts Options

	queue chan *pending
	done  chan struct{}

	mu       sync.Mutex
	streams  map[string]*stream
	closed   bool
	inFlight sync.WaitGroup // calls using the database; Close waits for them
	wg       sync.WaitGroup // the committer
}

type stream struct {
	name   string
	next   []int64 // per partition: next offset; only the committer writes it after open
	notify chan struct{}
}

type pending struct {
	w     *wlog.Write
	bases []int64
	err   error
	done  chan struct{}
}

var (
	_ wlog.Log  = (*Log)(nil)
	_ wlog.Meta = (*Log)(nil)
)

// Open opens or creates the log in dir.
func Open(dir string, opts Options) (*Log, error) {
	if opts.MaxGroupBytes == 0 {
		opts.MaxGroupBytes = 64 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MemTableSize == 0 {
		opts.MemTableSize = 64 << 20
	}
	po := &pebble.Options{
		Logger:             quietLogger{},
		MemTableSize:       opts.MemTableSize,
		FormatMajorVersion: pebble.FormatValueSeparation,
		FS:                 opts.FS,
	}
	po.Experimental.EnableColumnarBlocks = func() bool { return true }
	po.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{Enabled: true, MinimumSize: 1024, MaxBlobReferenceDepth: 10, RewriteMinimumAge: 5 * time.Minute, TargetGarbageRatio: 0.2}
	}
	db, err := openPebble(dir, po)
	if err != nil {
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) || strings.Contains(err.Error(), "lock held by current process") {
			err = fmt.Errorf("%w (%v)", ErrLocked, err)
		}
		return nil, fmt.Errorf("cannot open log in %q: %w", dir, err)
	}
	l := &Log{
		db:      db,
		opts:    opts,
		queue:   make(chan *pending, 4096),
		done:    make(chan struct{}),
		streams: map[string]*stream{},
	}
	l.wg.Add(1)
	go l.committer()
	return l, nil
}

// openPebble is pebble.Open, with the panics it raises on some storage
// failures (a failed MANIFEST marker move while creating a store) turned
// into errors: Open has cleaned up by then, and the caller stops anyway.
func openPebble(dir string, po *pebble.Options) (db *pebble.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("storage failed: %v", r)
		}
	}()
	return pebble.Open(dir, po)
}

func logKey(dst []byte, stream string, partition int, offset int64) []byte {
	dst = append(dst, prefixLog)
	dst = append(dst, stream...)
	dst = append(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(partition))
	return binary.BigEndian.AppendUint64(dst, uint64(offset))
}

func partitionBounds(stream string, partition int) (lo, hi []byte) {
	lo = logKey(nil, stream, partition, 0)
	hi = logKey(nil, stream, partition+1, 0)
	return lo, hi
}

// EnsureStream implements log.Log.
func (l *Log) EnsureStream(name string, partitions int) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.inFlight.Done()
	if partitions < 1 {
		return fmt.Errorf("stream %q: partitions must be at least 1, got %d", name, partitions)
	}
	if bytes.IndexByte([]byte(name), 0) >= 0 {
		return fmt.Errorf("stream name %q contains a NUL byte", name)
	}
	metaKey := []byte("log/streams/" + name)
	v, ok, err := l.Get(metaKey)
	if err != nil {
		return err
	}
	if ok {
		n, _ := binary.Uvarint(v)
		if int(n) != partitions {
			return fmt.Errorf("stream %q has %d partitions in this data directory, the configuration asks for %d; "+
				"changing the partition count is not supported yet: keep %d or use a new data directory", name, n, partitions, n)
		}
	} else if err := l.Set(metaKey, binary.AppendUvarint(nil, uint64(partitions))); err != nil {
		return err
	}
	dropped, err := l.droppedEnds(name)
	if err != nil {
		return err
	}
	s := &stream{name: name, next: make([]int64, partitions), notify: make(chan struct{})}
	for p := range partitions {
		end, err := l.scanEnd(name, p)
		if err != nil {
			return err
		}
		if p < len(dropped) {
			end = max(end, dropped[p])
		}
		s.next[p] = end
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.streams[name]; !ok {
		l.streams[name] = s
	}
	return nil
}

// scanEnd finds the end offset of a partition from its last batch.
func (l *Log) scanEnd(name string, p int) (int64, error) {
	lo, hi := partitionBounds(name, p)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	b, err := decodeBatch(it.Key(), it.Value())
	if err != nil {
		return 0, err
	}
	return b.End(), nil
}

func decodeBatch(key, val []byte) (wlog.Batch, error) {
	var b wlog.Batch
	if len(key) < 8 || len(val) < 1 || val[0] != version {
		return b, fmt.Errorf("%w: bad batch header", wlog.ErrCorrupt)
	}
	b.BaseOffset = int64(binary.BigEndian.Uint64(key[len(key)-8:]))
	p := 1
	count, k := binary.Uvarint(val[p:])
	if k <= 0 {
		return b, fmt.Errorf("%w: bad batch count", wlog.ErrCorrupt)
	}
	p += k
	meta, k := binary.Uvarint(val[p:])
	if k <= 0 {
		return b, fmt.Errorf("%w: bad batch meta", wlog.ErrCorrupt)
	}
	p += k
	at, k := binary.Varint(val[p:])
	if k <= 0 {
		return b, fmt.Errorf("%w: bad batch time", wlog.ErrCorrupt)
	}
	p += k
	b.Count, b.Meta, b.AppendTime, b.Payload = int(count), uint32(meta), at, val[p:]
	return b, nil
}

// Append implements log.Log.
func (l *Log) Append(ctx context.Context, w *wlog.Write) ([]int64, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, wlog.ErrClosed
	}
	for _, c := range w.Chunks {
		s, ok := l.streams[c.Stream]
		if !ok {
			l.mu.Unlock()
			return nil, fmt.Errorf("%w: %q", wlog.ErrUnknownStream, c.Stream)
		}
		if c.Partition < 0 || c.Partition >= len(s.next) {
			l.mu.Unlock()
			return nil, fmt.Errorf("stream %q has no partition %d", c.Stream, c.Partition)
		}
	}
	l.inFlight.Add(1) // Close waits for this write to be committed
	l.mu.Unlock()
	defer l.inFlight.Done()

	p := &pending{w: w, done: make(chan struct{})}
	select {
	case l.queue <- p:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-p.done:
		return p.bases, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *Log) committer() {
	defer l.wg.Done()
	var group []*pending
	batch := l.db.NewBatch()
	for {
		var first *pending
		select {
		case first = <-l.queue:
		case <-l.done:
			return // Close saw every append finish first
		}
		group = append(group[:0], first)
		size := first.w.Bytes()
	collect:
		for size < l.opts.MaxGroupBytes {
			select {
			case p := <-l.queue:
				group = append(group, p)
				size += p.w.Bytes()
			default:
				break collect
			}
		}
		if size > reusedBatchBytes {
			// Pebble lets go of a reset batch's buffer past 1 MiB: a large
			// group gets a batch of its size at once, not by doubling.
			big := l.db.NewBatchWithSize(size + size/8 + 64*(len(group)+1))
			l.commitGroup(big, group, size)
			big.Close()
			continue
		}
		l.commitGroup(batch, group, size)
		batch.Reset()
	}
}

// reusedBatchBytes is the largest group the committer's reused batch takes.
const reusedBatchBytes = 1 << 20

func (l *Log) commitGroup(batch *pebble.Batch, group []*pending, size int) {
	start := time.Now()
	nowMs := l.opts.Now().UnixMilli()
	l.mu.Lock()
	touched := map[*stream]bool{}
	// Assign offsets on a copy so a failed commit leaves them unchanged.
	next := map[*stream][]int64{}
	var key, hdr []byte
	for _, p := range group {
		p.bases = make([]int64, len(p.w.Chunks))
		for i, c := range p.w.Chunks {
			s := l.streams[c.Stream]
			n, ok := next[s]
			if !ok {
				n = append([]int64(nil), s.next...)
				next[s] = n
			}
			base := n[c.Partition]
			p.bases[i] = base
			n[c.Partition] = base + int64(c.Count)
			touched[s] = true

			key = logKey(key[:0], c.Stream, c.Partition, base)
			hdr = append(hdr[:0], version)
			hdr = binary.AppendUvarint(hdr, uint64(c.Count))
			hdr = binary.AppendUvarint(hdr, uint64(c.Meta))
			hdr = binary.AppendVarint(hdr, nowMs)
			op := batch.SetDeferred(len(key), len(hdr)+len(c.Payload))
			copy(op.Key, key)
			copy(op.Value, hdr)
			copy(op.Value[len(hdr):], c.Payload)
			op.Finish()
		}
		for _, put := range p.w.Puts {
			batch.Set(metaKey(put.Key), put.Value, nil)
		}
		for _, k := range p.w.Deletes {
			batch.Delete(metaKey(k), nil)
		}
	}
	l.mu.Unlock()

	err := batch.Commit(pebble.Sync)

	l.mu.Lock()
	if err == nil {
		for s, n := range next {
			copy(s.next, n)
		}
		for s := range touched {
			close(s.notify)
			s.notify = make(chan struct{})
		}
	}
	l.mu.Unlock()
	if m := l.opts.Metrics; m != nil && err == nil {
		m.AppendSeconds.Observe(time.Since(start).Seconds())
		m.AppendBytes.Add(float64(size))
		m.GroupSize.Observe(float64(len(group)))
	}
	for _, p := range group {
		if err != nil {
			p.bases, p.err = nil, fmt.Errorf("cannot commit to the log: %w", err)
		}
		close(p.done)
	}
}

// Read implements log.Log.
func (l *Log) Read(name string, partition int, from int64, maxBytes int) ([]wlog.Batch, error) {
	var out []wlog.Batch
	err := l.ReadFunc(name, partition, from, maxBytes, func(b wlog.Batch) bool {
		b.Payload = append([]byte(nil), b.Payload...)
		out = append(out, b)
		return true
	})
	return out, err
}

// ReadFunc implements log.Log: the payloads are Pebble's own buffers.
func (l *Log) ReadFunc(name string, partition int, from int64, maxBytes int, fn func(wlog.Batch) bool) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.inFlight.Done()
	if _, err := l.stream(name, partition); err != nil {
		return err
	}
	lo, hi := partitionBounds(name, partition)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	// Readers most often ask for the offset after the batch they read
	// last, the base of a batch: a forward seek finds it without the
	// backward seek and the read of the batch before it.
	key := logKey(nil, name, partition, from)
	valid := it.SeekGE(key)
	if !valid || !bytes.Equal(it.Key(), key) {
		// The batch holding `from` is the last one whose base is <= from.
		valid = it.SeekLT(logKey(key[:0], name, partition, from+1))
		if valid {
			b, err := decodeBatch(it.Key(), it.Value())
			if err != nil {
				return err
			}
			if b.End() <= from {
				valid = it.Next()
			}
		} else {
			valid = it.First()
		}
	}
	read := 0
	for ; valid; valid = it.Next() {
		b, err := decodeBatch(it.Key(), it.Value())
		if err != nil {
			return err
		}
		read += len(b.Payload)
		if !fn(b) || read >= maxBytes {
			break
		}
	}
	return it.Error()
}

func (l *Log) stream(name string, partition int) (*stream, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.streams[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", wlog.ErrUnknownStream, name)
	}
	if partition < 0 || partition >= len(s.next) {
		return nil, fmt.Errorf("stream %q has no partition %d", name, partition)
	}
	return s, nil
}

// End implements log.Log.
func (l *Log) End(name string, partition int) (int64, error) {
	s, err := l.stream(name, partition)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return s.next[partition], nil
}

// Start implements log.Log: the base offset in the partition's first key
// (the batch itself is not read).
func (l *Log) Start(name string, partition int) (int64, error) {
	if err := l.enter(); err != nil {
		return 0, err
	}
	defer l.inFlight.Done()
	end, err := l.End(name, partition)
	if err != nil {
		return 0, err
	}
	lo, hi := partitionBounds(name, partition)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.First() {
		return end, it.Error()
	}
	if k := it.Key(); len(k) >= 8 {
		return int64(binary.BigEndian.Uint64(k[len(k)-8:])), nil
	}
	return 0, fmt.Errorf("%w: bad batch key in %s/%d", wlog.ErrCorrupt, name, partition)
}

// Notify implements log.Log.
func (l *Log) Notify(name string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.streams[name]; ok {
		return s.notify
	}
	c := make(chan struct{})
	close(c)
	return c
}

// Retain implements log.Log.
func (l *Log) Retain(name string, partition int, floor int64, policy wlog.Retention) (int64, error) {
	if err := l.enter(); err != nil {
		return 0, err
	}
	defer l.inFlight.Done()
	logEnd, err := l.End(name, partition)
	if err != nil {
		return 0, err
	}
	if policy.MaxAgeMillis <= 0 && policy.MaxBytes <= 0 {
		return 0, nil
	}
	lo, hi := partitionBounds(name, partition)
	var size uint64
	if policy.MaxBytes > 0 {
		var err error
		if size, err = l.db.EstimateDiskUsage(lo, hi); err != nil {
			return 0, err
		}
	}
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	cutoff := l.opts.Now().UnixMilli() - policy.MaxAgeMillis
	var deleted int64
	var end []byte // exclusive end key of the range to delete
	for valid := it.First(); valid; valid = it.Next() {
		b, err := decodeBatch(it.Key(), it.Value())
		if err != nil {
			return 0, err
		}
		if b.End() > floor {
			break
		}
		if b.End() >= logEnd {
			// The last batch stays: the partition's end offset is read
			// from it when the log opens again (deleting it would restart
			// the partition's offsets at 0).
			break
		}
		old := policy.MaxAgeMillis > 0 && b.AppendTime < cutoff
		big := policy.MaxBytes > 0 && size > uint64(policy.MaxBytes)
		if !old && !big {
			break
		}
		size -= min(size, uint64(len(it.Value())+len(it.Key())))
		deleted += int64(b.Count)
		end = logKey(end[:0], name, partition, b.End())
	}
	if err := it.Error(); err != nil {
		return 0, err
	}
	if deleted == 0 {
		return 0, nil
	}
	if err := l.db.DeleteRange(lo, end, pebble.Sync); err != nil {
		return 0, fmt.Errorf("cannot delete old batches of %s/%d: %w", name, partition, err)
	}
	return deleted, nil
}

func metaKey(k []byte) []byte {
	out := make([]byte, 0, len(k)+1)
	out = append(out, prefixMeta)
	return append(out, k...)
}

// Get implements log.Meta.
func (l *Log) Get(key []byte) ([]byte, bool, error) {
	if err := l.enter(); err != nil {
		return nil, false, err
	}
	defer l.inFlight.Done()
	v, closer, err := l.db.Get(metaKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer closer.Close()
	return append([]byte(nil), v...), true, nil
}

// Set implements log.Meta.
func (l *Log) Set(key, value []byte) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.inFlight.Done()
	return l.db.Set(metaKey(key), value, pebble.Sync)
}

// Delete implements log.Meta.
func (l *Log) Delete(key []byte) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.inFlight.Done()
	return l.db.Delete(metaKey(key), pebble.Sync)
}

// prefixEnd is the smallest key above every key with the prefix: the
// prefix plus one in its last non-0xff byte.
func prefixEnd(lo []byte) []byte {
	hi := append([]byte(nil), lo...)
	for len(hi) > 0 && hi[len(hi)-1] == 0xff {
		hi = hi[:len(hi)-1]
	}
	if len(hi) > 0 {
		hi[len(hi)-1]++
	}
	return hi
}

// DeletePrefix implements log.Meta.
func (l *Log) DeletePrefix(prefix []byte) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.inFlight.Done()
	lo := metaKey(prefix)
	return l.db.DeleteRange(lo, prefixEnd(lo), pebble.Sync)
}

// DropStream implements log.Log. The caller must make sure no Append to
// the stream is in flight.
func (l *Log) DropStream(name string) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.inFlight.Done()
	ends, err := l.droppedEnds(name)
	if err != nil {
		return err
	}
	l.mu.Lock()
	s, ok := l.streams[name]
	delete(l.streams, name)
	var cur []int64 // the stream's end offsets
	if ok {
		cur = slices.Clone(s.next)
	}
	l.mu.Unlock()
	if !ok { // declared in an earlier run, not in this one
		v, declared, err := l.Get([]byte("log/streams/" + name))
		if err != nil {
			return err
		}
		n, _ := binary.Uvarint(v)
		for p := 0; declared && p < int(n); p++ {
			e, err := l.scanEnd(name, p)
			if err != nil {
				return err
			}
			cur = append(cur, e)
		}
	}
	ends = wlog.MaxOffsets(ends, cur)
	// The records, the declaration and where the offsets ended, in one
	// batch: a stream declared anew continues from there.
	var enc []byte
	for _, e := range ends {
		enc = binary.AppendUvarint(enc, uint64(e))
	}
	b := l.db.NewBatch()
	defer b.Close()
	lo := logKey(nil, name, 0, 0)
	hi := append(append([]byte{prefixLog}, name...), 1)
	if err := b.DeleteRange(lo, hi, nil); err != nil {
		return err
	}
	if err := b.Delete(metaKey([]byte("log/streams/"+name)), nil); err != nil {
		return err
	}
	if len(ends) > 0 {
		if err := b.Set(metaKey([]byte(endsKey+name)), enc, nil); err != nil {
			return err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("cannot delete the records of stream %q: %w", name, err)
	}
	if ok {
		l.mu.Lock()
		close(s.notify)
		l.mu.Unlock()
	}
	return nil
}

// endsKey + stream holds the end offsets of a dropped stream's partitions.
const endsKey = "log/dropped-ends/"

// droppedEnds returns where the offsets of an earlier stream of this name
// ended when it was dropped (nil: never dropped).
func (l *Log) droppedEnds(name string) ([]int64, error) {
	v, ok, err := l.Get([]byte(endsKey + name))
	if err != nil || !ok {
		return nil, err
	}
	var ends []int64
	for len(v) > 0 {
		e, k := binary.Uvarint(v)
		if k <= 0 {
			return nil, fmt.Errorf("%w: bad end offsets of dropped stream %q", wlog.ErrCorrupt, name)
		}
		ends, v = append(ends, int64(e)), v[k:]
	}
	return ends, nil
}

// Scan implements log.Meta.
func (l *Log) Scan(prefix []byte, fn func(key, value []byte) bool) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.inFlight.Done()
	lo := metaKey(prefix)
	hi := prefixEnd(lo)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		if !fn(it.Key()[1:], it.Value()) {
			break
		}
	}
	return it.Error()
}

// enter registers a call that uses the database, so that Close waits for
// it; once the log is closed it fails with log.ErrClosed (Pebble panics on
// a closed database).
func (l *Log) enter() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return wlog.ErrClosed
	}
	l.inFlight.Add(1)
	return nil
}

// Close implements log.Log. Appends still queued are committed first.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.inFlight.Wait()
	close(l.done)
	l.wg.Wait()
	return l.db.Close()
}

// quietLogger drops Pebble's informational messages; errors still reach the
// caller through return values.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}

// Fatalf is Pebble giving up: a failed WAL or MANIFEST write or sync, or a
// broken invariant. Pebble cannot go on after it, and neither can the node:
// a write it acknowledged next might not be durable (what PostgreSQL does
// on a failed fsync, too). Say so plainly, then stop.
func (quietLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf("pebble: "+format, args...)
	slog.Error("the log's storage failed, so the node stops rather than acknowledge writes that may not be durable; "+
		"check the disk of the data directory (space, I/O errors) and restart: recovery resumes from what was synced", "error", msg)
	panic(msg)
}
