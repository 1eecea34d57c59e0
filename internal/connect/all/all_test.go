package all

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/config"
	"github.com/weirhq/weir/internal/connect/spec"
)

var update = flag.Bool("update", false, "rewrite docs/connectors/*.md from the connector specs")

// TestDocs: docs/connectors/<type>.md is what the connector's spec says.
func TestDocs(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "docs", "connectors")
	var all []*spec.Spec
	for _, kind := range []string{"source", "sink"} {
		for _, typ := range spec.Types(kind) {
			s, _ := spec.Lookup(kind, typ)
			all = append(all, s)
		}
	}
	if len(all) == 0 {
		t.Fatal("no connector registered")
	}
	for _, s := range all {
		want := spec.Markdown(s)
		path := filepath.Join(dir, spec.DocFile(s))
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is stale or missing: run go test ./internal/connect/all/ -update", path)
		}
	}
}

// TestSourceConfig: a connector source's settings are checked by its spec
// when weir.yaml loads, with the file and line of each mistake.
func TestSourceConfig(t *testing.T) {
	f := func(source, want string) {
		t.Helper()
		dir := t.TempDir()
		yaml := `streams:
  events:
    schema: schemas/e.json
    key: [id]
    event_time: {column: ts}
sources:
  k:
` + source
		os.MkdirAll(filepath.Join(dir, "schemas"), 0o755)
		os.WriteFile(filepath.Join(dir, "weir.yaml"), []byte(yaml), 0o644)
		os.WriteFile(filepath.Join(dir, "schemas", "e.json"), []byte(`{"type":"object","required":["ts"],"properties":{"id":{"type":"string"},"ts":{"type":"string","format":"date-time"}}}`), 0o644)
		p, err := config.Load(dir)
		if want == "" {
			if err != nil {
				t.Fatalf("%s: %v", source, err)
			}
			v := p.Sources[0].Settings
			if v.String("start") != "earliest" || v.Int("max_batch") != 5000 || v.String("format") != "json" {
				t.Fatalf("defaults not applied: %v", v)
			}
			if b := v.Strings("brokers"); len(b) != 2 || b[0] != "a:9092" || b[1] != "b:9092" {
				t.Fatalf("brokers %q, want a:9092 and b:9092", b)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error %v, want it to contain %q", source, err, want)
		}
	}
	f("    type: kafka\n    stream: events\n    brokers: [a:9092, b:9092]\n    topic: t\n", "")
	f("    type: kafka\n    stream: events\n    brokers: a:9092, b:9092\n    topic: t\n", "")
	f("    type: kafka\n    stream: events\n    topic: t\n", "weir.yaml:8: sources.k: brokers is required")
	f("    type: kafka\n    stream: events\n    brokers: [a:9092]\n", "sources.k: topic is required")
	f("    type: kafka\n    brokers: [a:9092]\n    topic: t\n", "sources.k: stream is required")
	f("    type: kafka\n    stream: events\n    brokers: [a:9092]\n    topic: t\n    start: newest\n", "weir.yaml:12: sources.k.start must be one of earliest, latest, timestamp, got \"newest\"")
	f("    type: kafka\n    stream: events\n    brokers: [a:9092]\n    topic: t\n    max_batch: 0\n", "sources.k.max_batch must be an integer from 1 to 1000000")
	f("    type: kafka\n    stream: events\n    brokers: [a:9092]\n    topic: t\n    topics: [x]\n", `sources.k: unknown key "topics"`)
	f("    type: kafka\n    stream: nope\n    brokers: [a:9092]\n    topic: t\n", `"nope" is not a declared stream`)
	f("    type: kafkaa\n    stream: events\n", "unknown source type \"kafkaa\"; supported: generator, inbox, kafka")
}

// TestSinkConfig: a connector sink's settings are checked by its spec.
func TestSinkConfig(t *testing.T) {
	f := func(sink, want string) {
		t.Helper()
		dir := t.TempDir()
		yaml := `streams:
  events:
    schema: schemas/e.json
    key: [id]
    event_time: {column: ts}
sinks:
  s:
` + sink
		os.MkdirAll(filepath.Join(dir, "schemas"), 0o755)
		os.WriteFile(filepath.Join(dir, "weir.yaml"), []byte(yaml), 0o644)
		os.WriteFile(filepath.Join(dir, "schemas", "e.json"), []byte(`{"type":"object","required":["ts"],"properties":{"id":{"type":"string"},"ts":{"type":"string","format":"date-time"}}}`), 0o644)
		p, err := config.Load(dir)
		if want == "" {
			if err != nil {
				t.Fatalf("%s: %v", sink, err)
			}
			if v := p.Sinks[0].Settings; v.String("delivery") != "exactly_once" && v.String("mode") != "upsert" {
				t.Fatalf("defaults not applied: %v", v)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error %v, want it to contain %q", sink, err, want)
		}
	}
	f("    type: kafka\n    stream: events\n    brokers: [a:9092]\n    topic: out\n", "")
	f("    type: postgres\n    stream: events\n    dsn: postgres://db/x\n", "")
	f("    type: kafka\n    stream: events\n    topic: out\n", "weir.yaml:8: sinks.s: brokers is required")
	f("    type: kafka\n    stream: events\n    brokers: [a:9092]\n    topic: out\n    delivery: twice\n", "sinks.s.delivery must be one of exactly_once, at_least_once")
	f("    type: kafka\n    view: v\n    brokers: [a:9092]\n    topic: out\n", `sinks.s.view: no view "v" in views/*.sql`)
	f("    type: kafka\n    view: v\n    stream: events\n    brokers: [a:9092]\n    topic: out\n", "set either stream: (a stream of this file) or view: (a view of views/*.sql), not both")
	f("    type: webhook\n    url: http://x/\n", "stream or view is required")
	f("    type: postgres\n    stream: nope\n    dsn: x\n", `"nope" is not a declared stream`)
	f("    type: s3\n    stream: events\n", `unknown sink type "s3"; supported: lake, kafka, postgres`)
}

// TestExamples: every example pipeline loads (its connectors' settings
// valid), so the templates users copy stay true.
func TestExamples(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "..", "examples", "*", "weir.yaml"))
	if len(dirs) < 4 {
		t.Fatalf("examples: %v", dirs)
	}
	for _, f := range dirs {
		if _, err := config.Load(filepath.Dir(f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
