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

func (t *Task) Commit(ctx context.Context) error { return t.commitCheckpoint(ctx, true) }

// CommitOnly commits outputs and position without a state checkpoint.
func (t *Task) CommitOnly(ctx context.Context) error { return t.commitCheckpoint(ctx, false) }

// Finish ends the input: the watermark moves past every window, which
// fire, and the task commits.
func (t *Task) Finish(ctx context.Context) error {
	t.wm = math.MaxInt64
	t.fire()
	return t.commit(ctx)
}
