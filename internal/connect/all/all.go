// Package all imports every connector, so that they register themselves.
// Import it (blank) where a binary or a test needs them all.
package all

import (
	_ "github.com/weirhq/weir/internal/connect/generator"
	_ "github.com/weirhq/weir/internal/connect/inbox"
	_ "github.com/weirhq/weir/internal/connect/kafka"
	_ "github.com/weirhq/weir/internal/connect/mqtt"
	_ "github.com/weirhq/weir/internal/connect/postgres"
	_ "github.com/weirhq/weir/internal/connect/webhook"
)
