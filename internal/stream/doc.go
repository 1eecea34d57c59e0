// Package stream is Weir's streaming runtime: the tasks that keep
// materialised views up to date from the log, with event-time windows,
// watermarks, keyed aggregate state and the late-data policies.
//
// A task reads every partition of its input stream from its committed
// offsets, evaluates the view's compiled plan (filter, window assignment,
// grouping, aggregates, projection) and, at each commit, writes in one
// atomic log write: the view's new output rows (a log stream of its own),
// late records (the side output), the state entries that changed or were
// closed, and its input offsets and watermark. Recovery loads the state
// and resumes from the offsets, so every input record counts exactly once
// in the view, whatever crashes happen. A plan may read two inputs and
// join them (join.go); a group may keep its first N rows instead of
// aggregates (Top-N, topn.go); an input may be another view's output,
// whose watermark is that view's (Input.Upstream). A view with
// Plan.Parallelism > 1 runs as a Job: partial tasks over shares of the
// partitions, a repartition stream, merge tasks (parallel.go).
//
// The runtime knows nothing of SQL: package sql/plan compiles SQL into a
// Plan of closures. This package must not import the gate, the lake, the
// serving layer or the HTTP API.
package stream
