// Package log defines Weir's durable, partitioned, replayable event log: the
// seam between the gate (which appends) and everything downstream (which
// reads by stream, partition and offset, as in Kafka).
//
// The embedded implementation lives in package pebblelog; a Kafka
// implementation will satisfy the same interfaces. This package must not
// import the gate, the lake or the serving layer.
package log

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// Chunk is a run of records for one partition of one stream. A chunk is the
// unit of append and of read: its records get consecutive offsets starting
// at the chunk's base offset.
type Chunk struct {
	Stream    string
	Partition int
	// Meta is opaque to the log and returned with the chunk; the gate stores
	// the schema version of the records here.
	Meta    uint32
	Count   int
	Payload []byte // Count records, each framed by AppendRecord
}

// Put is a metadata entry to write atomically with a Write's chunks (for
// example the idempotency record of an ingest request).
type Put struct {
	Key, Value []byte
}

// Write is what one Append makes durable, all or nothing.
type Write struct {
	Chunks []Chunk
	Puts   []Put
	// Deletes are metadata keys removed in the same batch (for example the
	// state of a window that the same write emits).
	Deletes [][]byte
}

// Bytes is the approximate size of the write, for admission control.
func (w *Write) Bytes() int {
	n := 0
	for _, c := range w.Chunks {
		n += len(c.Payload) + 32
	}
	for _, p := range w.Puts {
		n += len(p.Key) + len(p.Value)
	}
	for _, k := range w.Deletes {
		n += len(k)
	}
	return n
}

// Batch is a chunk read back from the log.
type Batch struct {
	BaseOffset int64
	Count      int
	Meta       uint32
	AppendTime int64 // Unix milliseconds at append
	Payload    []byte
}

// End is the offset after the batch's last record.
func (b *Batch) End() int64 { return b.BaseOffset + int64(b.Count) }

// Records calls fn for each record of the batch with its offset. It stops
// early when fn returns false.
func (b *Batch) Records(fn func(offset int64, rec []byte) bool) error {
	p := b.Payload
	for i := range b.Count {
		rec, rest, err := NextRecord(p)
		if err != nil {
			return fmt.Errorf("batch at offset %d, record %d: %w", b.BaseOffset, i, err)
		}
		if !fn(b.BaseOffset+int64(i), rec) {
			return nil
		}
		p = rest
	}
	if len(p) != 0 {
		return fmt.Errorf("%w: batch at offset %d has %d trailing bytes", ErrCorrupt, b.BaseOffset, len(p))
	}
	return nil
}

// MaxOffsets returns ends raised, partition by partition, to at least
// the offsets of more (and grown to its length): where a dropped stream's
// offsets go on from when it was dropped more than once.
func MaxOffsets(ends, more []int64) []int64 {
	for p, e := range more {
		if p == len(ends) {
			ends = append(ends, 0)
		}
		ends[p] = max(ends[p], e)
	}
	return ends
}

// AppendRecord frames rec (uvarint length, bytes) onto a chunk payload.
func AppendRecord(payload, rec []byte) []byte {
	payload = binary.AppendUvarint(payload, uint64(len(rec)))
	return append(payload, rec...)
}

// NextRecord splits the first framed record off p.
func NextRecord(p []byte) (rec, rest []byte, err error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || uint64(len(p)-k) < n {
		return nil, nil, fmt.Errorf("%w: bad record frame", ErrCorrupt)
	}
	return p[k : k+int(n) : k+int(n)], p[k+int(n):], nil
}

// Errors a caller can check with errors.Is.
var (
	// ErrClosed: the log is closed; the caller should stop.
	ErrClosed = errors.New("log is closed")
	// ErrCorrupt: stored data failed to decode. Not retriable.
	ErrCorrupt = errors.New("log data is corrupt")
	// ErrUnknownStream: the stream was never declared with EnsureStream.
	ErrUnknownStream = errors.New("unknown stream")
)

// Log is a set of streams, each with a fixed number of partitions, each an
// ordered sequence of records numbered by dense offsets from 0.
//
// Append is safe for concurrent use and groups concurrent writes into one
// sync (group commit). Readers never block appenders.
type Log interface {
	// EnsureStream declares a stream with the given number of partitions. It
	// fails if the stream exists with another partition count.
	EnsureStream(stream string, partitions int) error

	// Append makes w durable atomically and returns the base offset assigned
	// to each chunk, in order. When Append returns an error nothing of w is
	// visible or durable. It returns ctx.Err() if ctx ends while waiting to
	// be committed; the write may then still commit.
	Append(ctx context.Context, w *Write) ([]int64, error)

	// Read returns the batches of a partition starting with the one that
	// holds offset from, until about maxBytes of payload have been read (at
	// least one batch, if any). Offsets below the first retained one return
	// batches from the first retained one. An empty result means from is at
	// the end.
	Read(stream string, partition int, from int64, maxBytes int) ([]Batch, error)

	// ReadFunc is Read without copies: it calls fn with each batch Read
	// would return, until fn returns false. A batch's Payload is valid only
	// during the call.
	ReadFunc(stream string, partition int, from int64, maxBytes int, fn func(Batch) bool) error

	// End returns the next offset to be assigned in a partition (its high
	// watermark): every offset below it is durable.
	End(stream string, partition int) (int64, error)

	// Start returns the first offset a partition still holds: retention
	// deleted the records below it. It equals End when the partition holds
	// nothing.
	Start(stream string, partition int) (int64, error)

	// Notify returns a channel closed at the next append to the stream.
	Notify(stream string) <-chan struct{}

	// Retain deletes the oldest batches of a partition that are entirely
	// below floor and either older than the policy's MaxAge or beyond its
	// MaxBytes. It returns the number of records deleted.
	Retain(stream string, partition int, floor int64, policy Retention) (int64, error)

	// DropStream deletes a stream and all its records. Readers of the
	// stream get ErrUnknownStream afterwards. EnsureStream may declare it
	// anew; its offsets then go on from where the dropped stream's ended,
	// so a position a consumer stored is never past the new records.
	DropStream(stream string) error

	// Close waits for pending appends and releases the log.
	Close() error
}

// Retention bounds how much of a partition the log keeps. Records are only
// ever deleted below the floor the caller passes to Retain (what every
// consumer has committed), so retention never loses unconsumed data.
type Retention struct {
	MaxAgeMillis int64 // 0: no age limit
	MaxBytes     int64 // 0: no size limit
}

// Meta is a small, durable key-value store for node metadata (catalog,
// idempotency records, consumer positions). Keys are opaque bytes.
type Meta interface {
	Get(key []byte) (value []byte, ok bool, err error)
	Set(key, value []byte) error // durable when it returns
	Delete(key []byte) error
	// DeletePrefix removes every key with the prefix, durably.
	DeletePrefix(prefix []byte) error
	// Scan calls fn for each key with the prefix, in key order, until fn
	// returns false.
	Scan(prefix []byte, fn func(key, value []byte) bool) error
}
