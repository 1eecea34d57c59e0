package inbox

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/connect/conformance"
	"github.com/weirhq/weir/internal/connect/spec"
)

// TestConformance: the shared source suite, with each delivery an NDJSON
// file written under a temporary name and renamed into the inbox.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Peer {
		dir := filepath.Join(t.TempDir(), "drop")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return conformance.Peer{
			Type: "inbox",
			Settings: func(t testing.TB, _ string, batch int) spec.Values {
				v := values(t, map[string]any{"dir": dir, "max_batch": int64(batch), "poll": 5 * time.Millisecond})
				return v
			},
			Deliver: func(t testing.TB, from, to int) {
				var b []byte
				for i := from; i < to; i++ {
					b = append(append(b, conformance.Record(i)...), '\n')
				}
				name := fmt.Sprintf("records-%06d-%06d.ndjson", from, to)
				tmp := filepath.Join(dir, "."+name+".tmp")
				if err := os.WriteFile(tmp, b, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}
