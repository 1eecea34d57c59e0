package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/config"
)

// TestReferenceTables: a table declared in weir.yaml from a CSV file is
// loaded before the views, a view joins it, a change to the file reaches
// the records that come after it (the earlier rows stay as they were), a
// broken file keeps the last good version, and GET /v1/status says so.
func TestReferenceTables(t *testing.T) {
	dir := t.TempDir()
	yaml := eventsYAML(2) + `tables:
  tiers:
    file: tables/tiers.csv
    schema: schemas/tiers.json
    refresh: 100ms
`
	pipe := writePipeline(t, dir, yaml, map[string]string{"tagged.sql": `CREATE MATERIALIZED VIEW tagged AS
		SELECT e.seq, coalesce(t.tier, 'none') AS tier FROM events e LEFT JOIN tiers t ON e.user_id = t.user_id;`})
	csv := func(tier string) {
		t.Helper()
		var b strings.Builder
		b.WriteString("user_id,tier\n")
		for u := range 10 {
			fmt.Fprintf(&b, "u%d,%s\n", u, tier)
		}
		path := filepath.Join(pipe, "tables", "tiers.csv")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	csv("gold")
	if err := os.WriteFile(filepath.Join(pipe, "schemas", "tiers.json"), []byte(`{"type":"object","required":["user_id","tier"],
		"properties":{"user_id":{"type":"string"},"tier":{"type":"string","enum":["gold","silver"]}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := config.Load(pipe)
	if err != nil {
		t.Fatal(err)
	}
	n := startWith(t, Config{Pipeline: p, DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0", NoSources: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	tiers := func() string {
		res, err := n.Query(context.Background(), "SELECT tier, count(*) FROM tagged GROUP BY 1 ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res.Rows)
	}
	// until waits up to 10 s for ok, then fails saying what it waited for.
	until := func(ok func() bool, what func() string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what())
			}
		}
	}
	wait := func(want string) {
		t.Helper()
		until(func() bool { return tiers() == want }, func() string { return fmt.Sprintf("tagged: %s, want %s", tiers(), want) })
	}
	// 100 events of users u0..u49: u0..u9 are gold, twice each.
	if code, _, b := post(t, n, events(0, 100)); code != 200 {
		t.Fatalf("ingest: %d %s", code, b)
	}
	wait("[[gold 20] [none 80]]")

	time.Sleep(10 * time.Millisecond)
	csv("silver")
	version := func() (int64, string) {
		st := n.Status().Tables
		if len(st) != 1 || st[0].Name != "tiers" {
			t.Fatalf("status tables: %+v", st)
		}
		return int64(st[0].Version), st[0].LastError
	}
	tables := func() string { return fmt.Sprintf("%+v", n.Status().Tables) }
	until(func() bool { v, _ := version(); return v == 2 }, func() string { return "the changed file was not loaded: " + tables() })
	if code, _, b := post(t, n, events(100, 100)); code != 200 {
		t.Fatalf("ingest: %d %s", code, b)
	}
	wait("[[gold 20] [none 160] [silver 20]]")

	// A tier the schema does not allow: the file is refused whole.
	time.Sleep(10 * time.Millisecond)
	csv("bronze")
	until(func() bool { _, e := version(); return strings.Contains(e, `field "tier"`) }, func() string { return "a bad file should be reported: " + tables() })
	if v, _ := version(); v != 2 {
		t.Fatalf("a bad file replaced the table: version %d", v)
	}
	res, err := n.Query(context.Background(), "SHOW TABLES")
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range res.Rows {
		rows = append(rows, fmt.Sprint(r[0], " ", r[1], " ", r[2], " ", r[3], " ", r[5] != nil))
	}
	if got, want := strings.Join(rows, "; "), "events stream <nil> <nil> false; tagged view <nil> <nil> false; tiers reference table (file, for joins) 10 2 true"; got != want {
		t.Fatalf("SHOW TABLES:\n got  %s\n want %s", got, want)
	}
	if d, err := n.Describe(context.Background(), "SHOW TABLES"); err != nil || len(d.Columns) != len(res.Columns) {
		t.Fatalf("SHOW TABLES described as %+v (%v)", d, err)
	}
	if code, _, b := post(t, n, events(200, 100)); code != 200 {
		t.Fatalf("ingest: %d %s", code, b)
	}
	wait("[[gold 20] [none 240] [silver 40]]")
}
