package node

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/config"
)

const productsSchema = `{"type":"object","required":["product_id","name","price","updated_at"],"additionalProperties":false,
 "properties":{"product_id":{"type":"string","minLength":1},"name":{"type":"string"},"price":{"type":"number","minimum":0},
 "updated_at":{"type":"string","format":"date-time"}}}`

const productsYAML = `streams:
  products:
    schema: schemas/products.json
    key: [product_id]
    event_time: {column: updated_at}
    partitions: 2
sources:
  catalog:
    type: inbox
    stream: products
    dir: inbox
    snapshot: true
    poll: 20ms
sinks:
  history:
    type: lake
    stream: products
    table: products_history
    roll: {interval: 200ms}
`

// TestSnapshotFeed: a daily full export under one file name replaces the
// table whole; a broken export leaves the last valid one in place; each
// accepted export gets a diff report; all of it survives a restart, and
// the lake keeps the history.
func TestSnapshotFeed(t *testing.T) {
	dir := t.TempDir()
	pipe := filepath.Join(dir, "pipeline")
	os.MkdirAll(filepath.Join(pipe, "schemas"), 0o755)
	os.WriteFile(filepath.Join(pipe, "weir.yaml"), []byte(productsYAML), 0o644)
	os.WriteFile(filepath.Join(pipe, "schemas", "products.json"), []byte(productsSchema), 0o644)
	start := func() *Node {
		p, err := config.Load(pipe)
		if err != nil {
			t.Fatal(err)
		}
		n, err := Start(Config{Pipeline: p, DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0", MaintainInterval: 50 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	inbox := filepath.Join(pipe, "inbox")
	deliver := func(body string) {
		t.Helper()
		tmp := filepath.Join(inbox, ".products.csv.tmp")
		os.MkdirAll(inbox, 0o755)
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(inbox, "products.csv")); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(inbox, "products.csv")); os.IsNotExist(err) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("products.csv still in the inbox")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	table := func(n *Node, q string) string {
		t.Helper()
		res, err := n.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		var rows []string
		for _, r := range res.Rows {
			var cells []string
			for _, c := range r {
				b, _ := json.Marshal(c)
				cells = append(cells, string(b))
			}
			rows = append(rows, strings.Join(cells, " "))
		}
		return strings.Join(rows, "; ")
	}
	current := "SELECT product_id, name, price FROM products ORDER BY 1"

	n := start()
	if got := table(n, current); got != "" {
		t.Fatalf("before the first snapshot: %s", got)
	}
	deliver("product_id,name,price,updated_at\np1,apple,1.5,2026-12-01T00:00:00Z\np2,pear,2,2026-12-01T00:00:00Z\np3,plum,3,2026-12-01T00:00:00Z\n")
	if got, want := table(n, current), `"p1" "apple" 1.5; "p2" "pear" 2; "p3" "plum" 3`; got != want {
		t.Fatalf("day 1: %s, want %s", got, want)
	}
	deliver("product_id,name,price,updated_at\np1,apple,1.5,2026-12-01T00:00:00Z\np3,plum,3.5,2026-12-02T00:00:00Z\np4,kiwi,4,2026-12-02T00:00:00Z\np5,lime,-1,2026-12-02T00:00:00Z\n") // p2 gone, p3 changed, p4 new, p5 bad
	want2 := `"p1" "apple" 1.5; "p3" "plum" 3.5; "p4" "kiwi" 4`
	if got := table(n, current); got != want2 {
		t.Fatalf("day 2: %s, want %s", got, want2)
	}
	deliver("product_id,name,price,updated_at\np1,apple,1.5,2026-12-01T00:00:00Z\np9,fig,") // truncated: rejected
	if got := table(n, current); got != want2 {
		t.Fatalf("after a rejected file the table shows %s, want day 2: %s", got, want2)
	}
	q, err := n.Gate().ListQuarantine("products", 10)
	if err != nil {
		t.Fatal(err)
	}
	if last := q[len(q)-1]; last.Rule != "truncated" || !strings.Contains(last.Reason, "the table keeps serving the last valid snapshot, products.csv.") {
		t.Fatalf("rejection %+v", last)
	}

	// The diff report of day 2 against day 1.
	done, _ := filepath.Glob(filepath.Join(inbox, "done", "products.csv.*.diff.json"))
	if len(done) != 1 {
		t.Fatalf("diff reports of day 2: %v", done)
	}
	var report struct {
		File, Previous                           string
		Rows, Added, Removed, Changed, Unchanged int
		Examples                                 map[string][]string
	}
	b, _ := os.ReadFile(done[0])
	if err := json.Unmarshal(b, &report); err != nil {
		t.Fatal(err)
	}
	if report.Previous != "products.csv" || report.Rows != 3 || report.Added != 1 || report.Removed != 1 || report.Changed != 1 || report.Unchanged != 1 ||
		report.Examples["added"][0] != "p4" || report.Examples["removed"][0] != "p2" || report.Examples["changed"][0] != "p3" {
		t.Fatalf("diff report %s", b)
	}

	n.Shutdown(context.Background())
	n = start()
	defer n.Shutdown(context.Background())
	if got := table(n, current); got != want2 {
		t.Fatalf("after a restart: %s, want %s", got, want2)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := table(n, "SELECT count(*), count(DISTINCT product_id) FROM products_history")
		if got == "6 4" { // 3 rows of day 1, 3 valid of day 2
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("history: %s, want 6 rows of 4 products", got)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Day 1 is in the lake and no longer current: the log lets it go.
	snap, _ := n.snapshot("catalog")
	for {
		dropped := true
		for p := range 2 {
			if s, err := n.log.Start("products", p); err != nil || s < snap.Start[p] {
				dropped = false
			}
		}
		if dropped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log still holds records below the current snapshot %v", snap.Start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := table(n, current); got != want2 {
		t.Fatalf("after retention: %s, want %s", got, want2)
	}
}
