// Package table keeps a node's reference tables: small tables that views
// join their streams with by key (stream.LookupTable), loaded from a file
// of the pipeline directory (CSV or NDJSON, checked against a JSON
// Schema), a PostgreSQL query, or a table of the node itself (a stream's
// lake table and fresh tail), and refreshed in the background. A refresh
// that fails keeps the last good version and says why (log, metric,
// Status); a refresh that finds the same rows changes nothing.
//
// This package may import schema, stream (for the lookup interface) and
// pgx; it must not import the gate, the view manager, the serving layer
// or the node (a node table is read through Options.Query).
package table
