// Package ui is Weir's dashboard: a single-page application (HTML, CSS and
// JavaScript under assets/, charts by uPlot from npm) embedded in the
// binary and served at / and /ui/. Every number it shows comes from the
// HTTP API (GET /v1/live, /v1/status, /v1/query, /v1/quarantine), so the
// dashboard never sees more than an API client does.
//
// The front-end packages are installed by `make ui` (npm ci) and their built
// files copied into assets/vendor/, which is not committed. A binary built
// without them still serves the dashboard, with its charts replaced by a
// note that says how to get them.
//
// This package owns static files only: it must not import the node, the
// gate or the query engine.
package ui
