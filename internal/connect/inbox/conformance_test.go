package inbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/weirhq/weir/internal/connect/conformance"
	"github.com/weirhq/weir/internal/connect/spec"
	"github.com/weirhq/weir/internal/s3test"
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

// TestConformanceS3: the same suite with the inbox under a prefix of a
// bucket in a real MinIO, which the disruption restarts.
func TestConformanceS3(t *testing.T) {
	srv := s3test.Start(t)
	n := 0
	conformance.Run(t, func(t *testing.T) conformance.Peer {
		n++
		bucket := fmt.Sprintf("drop-%d", n)
		srv.Bucket(bucket)
		return conformance.Peer{
			Type: "inbox",
			Settings: func(t testing.TB, _ string, batch int) spec.Values {
				return values(t, map[string]any{"url": "s3://" + bucket + "/feeds/orders/", "endpoint": srv.Endpoint,
					"max_batch": int64(batch), "poll": 5 * time.Millisecond})
			},
			Deliver: func(t testing.TB, from, to int) {
				var b []byte
				for i := from; i < to; i++ {
					b = append(append(b, conformance.Record(i)...), '\n')
				}
				name := fmt.Sprintf("feeds/orders/records-%06d-%06d.ndjson", from, to)
				for attempt := 0; ; attempt++ { // the server may be restarting
					_, err := srv.Client.PutObject(context.Background(), bucket, name, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
					if err == nil {
						return
					}
					if attempt == 100 {
						t.Error(err)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			},
			Disrupt: func(t testing.TB) {
				srv.Stop()
				time.Sleep(300 * time.Millisecond)
				srv.Restart()
			},
		}
	})
}
