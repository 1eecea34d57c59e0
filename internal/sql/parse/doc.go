// Package parse turns Weir's streaming SQL text into a syntax tree: SELECT
// queries with window table-valued functions (TUMBLE, HOP, CUMULATE,
// SESSION), CREATE / DROP MATERIALIZED VIEW with the streaming clauses
// (allowed lateness, early firing, late-data policy), SHOW VIEWS and
// EXPLAIN. Every node carries its position, so later stages can refuse a
// construct by line and column.
//
// It knows only syntax: names are not resolved and types are not checked
// (that is package plan). It must not import any other Weir package.
package parse
