// Package inbox is the file-drop source: legacy systems write CSV, NDJSON
// or JSON files into a directory, and the source ingests each file once.
//
// A file's life: it appears under its final name (or, with `ready: stable`,
// its size stops changing); its content hash (SHA-256) is checked against a
// NAME.sha256 sidecar if there is one and looked up among the files already
// taken, so a re-delivered file is not ingested twice under any name; a
// structural check (empty, truncated, wrong header, unbalanced quotes)
// rejects a broken file whole; then its rows go to the gate in batches,
// each batch carrying the file's position (byte offset, line) in the same
// atomic log write, so a crash resumes mid-file exactly where the last
// acknowledged batch ended. Finally the file moves to done/, or to
// rejected/ with a NAME.reason note beside it and a quarantine record
// saying why.
//
// The position of every file taken lives in the metadata under
// src/<source>/file/<sha256 hex>. This package uses only the connector API
// (internal/connect) and the schema's column list; it must not import the
// node, the log implementation, the lake or the query engine.
package inbox
