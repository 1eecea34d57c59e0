package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/weirhq/weir/internal/gate"
)

// ErrFatal marks a connector error that retrying cannot fix (a missing
// topic permission, a table without the index it needs): RunSessions stops
// and returns it, and the node stops with its message.
var ErrFatal = errors.New("fatal")

// Backoff is the next exponential backoff (doubling from min to max), and
// Sleep waits for a jittered share of it (half to all) or until ctx ends.
func Backoff(d, lo, hi time.Duration) time.Duration { return min(max(2*d, lo), hi) }

// Sleep waits between d/2 and d, or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d/2 + rand.N(d/2+1))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// RunSessions runs session until ctx ends (then it returns nil), starting
// it again after each failure with exponential backoff and jitter (200 ms
// doubling to 10 s); a session that returns an error wrapping ErrFatal
// ends it with that error. Each retry is counted and logged.
func RunSessions(ctx context.Context, name string, logger *slog.Logger, metrics *Metrics, session func(context.Context) error) error {
	var backoff time.Duration
	for ctx.Err() == nil {
		err := session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrFatal) {
			return fmt.Errorf("%s: %w", name, err)
		}
		backoff = Backoff(backoff, 200*time.Millisecond, 10*time.Second)
		if metrics != nil {
			metrics.Retries.WithLabelValues(name).Inc()
		}
		logger.Warn("connector: retrying", "err", err, "retry_in", backoff)
		Sleep(ctx, backoff)
	}
	return nil
}

// Send ingests req, holding it while the stream cannot take it (the gate
// over its memory budget, the stream over its backlog, the log refusing
// writes): retried with backoff and jitter, never dropped. It returns
// ctx.Err() if ctx ends first; any other gate error wraps ErrFatal.
func Send(ctx context.Context, env Env, req gate.Request) (gate.Result, error) {
	var backoff time.Duration
	for {
		res, err := env.Gate.Ingest(ctx, req)
		switch {
		case err == nil:
			return res, nil
		case ctx.Err() != nil:
			return res, ctx.Err()
		case errors.Is(err, gate.ErrOverloaded), errors.Is(err, gate.ErrBacklog), errors.Is(err, gate.ErrUnavailable):
			backoff = Backoff(backoff, 50*time.Millisecond, 10*time.Second)
			if env.Metrics != nil {
				env.Metrics.Retries.WithLabelValues(env.Name).Inc()
			}
			if backoff >= time.Second && env.Logger != nil {
				env.Logger.Warn("the stream cannot take the batch now; holding it and retrying", "err", err, "retry_in", backoff)
			}
			Sleep(ctx, backoff)
		default:
			return res, fmt.Errorf("%w: cannot ingest into stream %q: %v", ErrFatal, env.Stream, err)
		}
	}
}
