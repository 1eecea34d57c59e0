// Package memlog is an in-memory log.Log and log.Meta for unit tests: the
// same contract as the Pebble log (atomic appends, dense offsets, notify,
// ordered metadata scans), nothing durable. It uses only channels and
// mutexes, so tests may run it inside testing/synctest bubbles.
//
// It must not be used outside tests; it imports only package log.
package memlog

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"

	wlog "github.com/weirhq/weir/internal/log"
)

// Log is an in-memory log and metadata store.
type Log struct {
	mu      sync.Mutex
	streams map[string]*stream
	dropped map[string][]int64 // where a dropped stream's offsets ended
	meta    map[string][]byte
	closed  bool
}

type stream struct {
	parts  [][]wlog.Batch
	next   []int64
	notify chan struct{}
}

var (
	_ wlog.Log  = (*Log)(nil)
	_ wlog.Meta = (*Log)(nil)
)

// New returns an empty log.
func New() *Log {
	return &Log{streams: map[string]*stream{}, dropped: map[string][]int64{}, meta: map[string][]byte{}}
}

// EnsureStream implements log.Log.
func (l *Log) EnsureStream(name string, partitions int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.streams[name]; ok {
		if len(s.next) != partitions {
			return fmt.Errorf("stream %q has %d partitions, not %d", name, len(s.next), partitions)
		}
		return nil
	}
	next := make([]int64, partitions)
	copy(next, l.dropped[name])
	l.streams[name] = &stream{parts: make([][]wlog.Batch, partitions), next: next, notify: make(chan struct{})}
	return nil
}

// Append implements log.Log: all of w or nothing, at once.
func (l *Log) Append(_ context.Context, w *wlog.Write) ([]int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, wlog.ErrClosed
	}
	for _, c := range w.Chunks {
		s, ok := l.streams[c.Stream]
		if !ok {
			return nil, fmt.Errorf("%w: %q", wlog.ErrUnknownStream, c.Stream)
		}
		if c.Partition < 0 || c.Partition >= len(s.next) {
			return nil, fmt.Errorf("stream %q has no partition %d", c.Stream, c.Partition)
		}
	}
	bases := make([]int64, len(w.Chunks))
	touched := map[*stream]bool{}
	for i, c := range w.Chunks {
		s := l.streams[c.Stream]
		bases[i] = s.next[c.Partition]
		s.parts[c.Partition] = append(s.parts[c.Partition], wlog.Batch{BaseOffset: bases[i], Count: c.Count, Meta: c.Meta,
			Payload: append([]byte(nil), c.Payload...)})
		s.next[c.Partition] += int64(c.Count)
		touched[s] = true
	}
	for _, p := range w.Puts {
		l.meta[string(p.Key)] = append([]byte(nil), p.Value...)
	}
	for _, k := range w.Deletes {
		delete(l.meta, string(k))
	}
	for s := range touched {
		close(s.notify)
		s.notify = make(chan struct{})
	}
	return bases, nil
}

// ReadFunc implements log.Log.
func (l *Log) ReadFunc(name string, partition int, from int64, maxBytes int, fn func(wlog.Batch) bool) error {
	bs, err := l.Read(name, partition, from, maxBytes)
	for _, b := range bs {
		if !fn(b) {
			break
		}
	}
	return err
}

// Read implements log.Log.
func (l *Log) Read(name string, partition int, from int64, maxBytes int) ([]wlog.Batch, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.streams[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", wlog.ErrUnknownStream, name)
	}
	var out []wlog.Batch
	read := 0
	for _, b := range s.parts[partition] {
		if b.End() <= from {
			continue
		}
		out = append(out, b)
		if read += len(b.Payload); read >= maxBytes {
			break
		}
	}
	return out, nil
}

// End implements log.Log.
func (l *Log) End(name string, partition int) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.streams[name]
	if !ok {
		return 0, fmt.Errorf("%w: %q", wlog.ErrUnknownStream, name)
	}
	return s.next[partition], nil
}

// Start implements log.Log.
func (l *Log) Start(name string, partition int) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.streams[name]
	if !ok {
		return 0, fmt.Errorf("%w: %q", wlog.ErrUnknownStream, name)
	}
	if bs := s.parts[partition]; len(bs) > 0 {
		return bs[0].BaseOffset, nil
	}
	return s.next[partition], nil
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

// Retain implements log.Log; the in-memory log keeps everything.
func (l *Log) Retain(string, int, int64, wlog.Retention) (int64, error) { return 0, nil }

// DropStream implements log.Log.
func (l *Log) DropStream(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.streams[name]; ok {
		close(s.notify)
		delete(l.streams, name)
		l.dropped[name] = wlog.MaxOffsets(l.dropped[name], s.next)
	}
	return nil
}

// Close implements log.Log.
func (l *Log) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return nil
}

// Get implements log.Meta.
func (l *Log) Get(key []byte) ([]byte, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.meta[string(key)]
	return append([]byte(nil), v...), ok, nil
}

// Set implements log.Meta.
func (l *Log) Set(key, value []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.meta[string(key)] = append([]byte(nil), value...)
	return nil
}

// Delete implements log.Meta.
func (l *Log) Delete(key []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.meta, string(key))
	return nil
}

// DeletePrefix implements log.Meta.
func (l *Log) DeletePrefix(prefix []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.meta {
		if bytes.HasPrefix([]byte(k), prefix) {
			delete(l.meta, k)
		}
	}
	return nil
}

// Scan implements log.Meta, in key order.
func (l *Log) Scan(prefix []byte, fn func(key, value []byte) bool) error {
	l.mu.Lock()
	var keys []string
	for k := range l.meta {
		if bytes.HasPrefix([]byte(k), prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = l.meta[k]
	}
	l.mu.Unlock()
	for i, k := range keys {
		if !fn([]byte(k), vals[i]) {
			break
		}
	}
	return nil
}
