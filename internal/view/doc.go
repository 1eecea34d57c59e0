// Package view owns the catalog of materialised views and their lifecycle:
// definitions from views/*.sql and from DDL (CREATE / DROP MATERIALIZED
// VIEW through the query API), persisted in the metadata store; one
// stream task per view, or a parallel job (PARALLELISM n); the view's output and late side output as log
// streams and as SQL tables in the serving engine; SHOW VIEWS and EXPLAIN.
// Views may read views: the manager starts them in dependency order,
// hands readers the upstream task's watermark, and refuses to drop or
// replace a view others read.
//
// It connects package sql (parse, plan), package stream (the runtime) and
// the serving engine; it must not import the gate, the lake writer or the
// HTTP API.
package view
