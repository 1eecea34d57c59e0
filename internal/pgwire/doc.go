// Package pgwire serves Weir's SQL over the PostgreSQL wire protocol, so
// psql, pgx, JDBC, Grafana's Postgres data source and BI tools can query
// streams and views like Postgres tables.
//
// It owns the protocol side only: the handshake, password authentication
// and TLS, the simple and the extended query protocol (Parse, Describe,
// Bind, Execute), Postgres type OIDs for DuckDB's result types, the command
// tags, SQLSTATE codes for errors, and query cancellation. What a statement
// means is the Backend's business (the node: read-only DuckDB SQL over the
// lake and the fresh tail, or view DDL). Statements a Postgres client sends
// for its session (SET, BEGIN, COMMIT, DISCARD ALL, ...) are accepted and
// change nothing: every query reads the latest data, there are no
// transactions to keep.
//
// This package must not import the gate, the log, the lake or the node.
package pgwire
