package stream

import (
	"context"
	"math"
)

// Test hooks: drive a task one round at a time, commit or "crash" between
// rounds, and end the input.

func (t *Task) Restore() error { return t.restore() }

// Replaying reports whether the task is rebuilding state from input it
// had committed outputs for.
func (t *Task) Replaying() bool { return t.replaying }

func (t *Task) Step() (bool, error) { return t.round() }

// EmitEarly emits the changed open windows, as Run does every EMIT EVERY
// interval.
func (t *Task) EmitEarly() { t.emitEarly() }

// Commit commits with a complete state checkpoint.
func (t *Task) Commit(ctx context.Context) error { return t.commitCheckpoint(ctx, checkpointFull) }

// CommitOnly commits outputs and position (making a checkpoint whose
// chunks are all written live).
func (t *Task) CommitOnly(ctx context.Context) error { return t.commitCheckpoint(ctx, commitOnly) }

// CheckpointChunk writes one chunk of a checkpoint, starting one if none
// is in progress.
func (t *Task) CheckpointChunk(ctx context.Context) error {
	if t.replaying {
		return nil // as in Run: no checkpoint starts during a replay
	}
	if t.job == nil {
		// As in Run: a checkpoint starts with a commit, so the deletions
		// it carries are of windows whose close is committed.
		return t.commitCheckpoint(ctx, checkpointStart)
	}
	if t.job.written {
		return nil
	}
	return t.writeChunk(ctx)
}

// Finish ends the input: the watermark moves past every window, which
// fire, and the task commits.
func (t *Task) Finish(ctx context.Context) error {
	t.evict(math.MaxInt64)
	t.wm = math.MaxInt64
	t.fire()
	return t.commit(ctx)
}

// Prepare creates the job's repartition stream, as Run does first.
func (j *Job) Prepare() error { return j.prepare() }

// Stages are the job's tasks: the first stage's, then the merge tasks.
func (j *Job) Stages() (first, merges []*Task) { return j.first, j.merges }

// AdvanceIdle marks partitions idle as Run does between rounds.
func (t *Task) AdvanceIdle() { t.advanceIdle(t.opts.Now()) }
