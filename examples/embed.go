// Package examples embeds the example pipelines so `weir demo` runs from
// anywhere, without a checkout.
package examples

import "embed"

// Clickstream is examples/clickstream: weir.yaml, schemas/, views/.
//
//go:embed clickstream
var Clickstream embed.FS
