package node

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/weirhq/weir/internal/config"
	"github.com/weirhq/weir/internal/s3test"
)

// copyTree copies a directory.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && e.Name() != ".gitignore" {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestLegacyCSVExample runs examples/legacy-csv as a user would: its sample
// files dropped into inbox/, the sound rows queryable, the bad rows and the
// broken files quarantined with reasons, the files sorted into done/ and
// rejected/.
//
// It runs twice: with the inbox directory of the example, and with the
// inbox under a prefix of a bucket in a real MinIO (the example's source
// given a url instead of a dir).
func TestLegacyCSVExample(t *testing.T) {
	t.Run("dir", func(t *testing.T) {
		testLegacyCSV(t, func(pipe string) (func(), func(folder string) []string) {
			inbox := filepath.Join(pipe, "inbox")
			return func() { copyTree(t, filepath.Join(pipe, "samples"), inbox) },
				func(folder string) []string { return names(t, filepath.Join(inbox, folder)) }
		})
	})
	t.Run("s3", func(t *testing.T) {
		srv := s3test.Start(t)
		srv.Bucket("legacy")
		testLegacyCSV(t, func(pipe string) (func(), func(folder string) []string) {
			conf := filepath.Join(pipe, "weir.yaml")
			b, err := os.ReadFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			y := regexp.MustCompile(`(?m)^    dir: inbox.*$`).ReplaceAllString(string(b), "    url: s3://legacy/feeds/orders/\n    endpoint: "+srv.Endpoint)
			if y == string(b) {
				t.Fatal("the example's source has no dir line to replace")
			}
			os.WriteFile(conf, []byte(y), 0o644)
			drop := func() {
				files, _ := filepath.Glob(filepath.Join(pipe, "samples", "*"))
				for _, f := range files {
					if _, err := srv.Client.FPutObject(context.Background(), "legacy", "feeds/orders/"+filepath.Base(f), f, minio.PutObjectOptions{}); err != nil {
						t.Fatal(err)
					}
				}
			}
			list := func(folder string) []string {
				prefix := "feeds/orders/"
				if folder != "" {
					prefix += folder + "/"
				}
				var out []string
				for o := range srv.Client.ListObjects(context.Background(), "legacy", minio.ListObjectsOptions{Prefix: prefix}) {
					if name := strings.TrimPrefix(o.Key, prefix); o.Err == nil && !strings.HasSuffix(name, "/") {
						out = append(out, name)
					}
				}
				return out
			}
			return drop, list
		})
	})
}

// testLegacyCSV runs the example with its inbox set up by box, which
// returns how to drop the sample files and how to list a folder ("",
// "done", "rejected").
func testLegacyCSV(t *testing.T, box func(pipe string) (drop func(), list func(folder string) []string)) {
	dir := t.TempDir()
	pipe := filepath.Join(dir, "legacy-csv")
	copyTree(t, filepath.Join("..", "..", "examples", "legacy-csv"), pipe)
	drop, list := box(pipe)
	p, err := config.Load(pipe)
	if err != nil {
		t.Fatal(err)
	}
	n := startWith(t, Config{Pipeline: p, DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	drop()

	deadline := time.Now().Add(30 * time.Second)
	for len(list("")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("files still in the inbox: %v", list(""))
		}
		time.Sleep(50 * time.Millisecond)
	}
	res, err := n.Query(context.Background(), "SELECT string_agg(order_id, ',' ORDER BY order_id), sum(amount) FROM orders")
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Rows[0][0]; got != "A-1001,A-1002,A-1003,A-1005,A-1008,A-3001,A-3002" {
		t.Errorf("orders %v", got)
	}
	if got, _ := res.Rows[0][1].(float64); math.Abs(got-(129.90+15.00+42.50+8.99+64.00+99.00+19.00)) > 1e-9 {
		t.Errorf("sum(amount) %v", got)
	}
	q, err := n.Gate().ListQuarantine("orders", 100)
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]string{}
	for _, r := range q {
		rules[r.Origin] = r.Rule
	}
	want := map[string]string{
		"orders-2026-12-01.csv line 5":       "minimum",
		"orders-2026-12-01.csv line 7":       "enum",
		"orders-2026-12-01.csv line 8":       "type",
		"orders-2026-12-02-truncated.csv":    "truncated",
		"orders-2026-12-04.csv":              "checksum",
		"orders-2026-12-05-wrong-header.csv": "header",
	}
	if len(rules) != len(want) {
		t.Errorf("quarantine %v, want %v", rules, want)
	}
	for o, r := range want {
		if rules[o] != r {
			t.Errorf("quarantine %s: rule %q, want %q", o, rules[o], r)
		}
	}
	done := list("done")
	rejected := list("rejected")
	if !slices.Equal(done, []string{"orders-2026-12-01.csv", "orders-2026-12-03.csv", "orders-2026-12-03.csv.sha256"}) {
		t.Errorf("done/ holds %v", done)
	}
	if !slices.Equal(rejected, []string{"orders-2026-12-02-truncated.csv", "orders-2026-12-02-truncated.csv.reason",
		"orders-2026-12-04.csv", "orders-2026-12-04.csv.reason", "orders-2026-12-04.csv.sha256",
		"orders-2026-12-05-wrong-header.csv", "orders-2026-12-05-wrong-header.csv.reason"}) {
		t.Errorf("rejected/ holds %v", rejected)
	}
}
