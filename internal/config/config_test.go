package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const schemaJSON = `{"type":"object","required":["ts","user_id"],"properties":{
 "ts":{"type":"string","format":"date-time"},"user_id":{"type":"string"},"n":{"type":"integer"}}}`

func pipelineDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "schemas"), 0o755)
	os.WriteFile(filepath.Join(dir, "schemas", "s.json"), []byte(schemaJSON), 0o644)
	return dir
}

func TestParseValid(t *testing.T) {
	src := `streams:
  clicks:
    schema: schemas/s.json
    key: user_id
    event_time: {column: ts, max_disorder: 2s}
    partitions: 8
    retention: {max_age: 7d, max_bytes: 1GiB}
sinks:
  lake: {type: lake, stream: clicks, roll: {max_rows: 10, interval: 1s}}
`
	p, err := Parse(pipelineDir(t), "weir.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Streams[0]
	if s.Partitions != 8 || s.KeyCols[0] != 1 || s.EventCol != 0 || s.Retention.MaxAge.Hours() != 168 || s.Retention.MaxBytes != 1<<30 {
		t.Fatalf("stream = %+v", s)
	}
	if sk := p.Sinks[0]; sk.Table != "clicks" || sk.Roll.MaxRows != 10 {
		t.Fatalf("sink = %+v", sk)
	}
}

// Every error names the file and line and says what to do.
func TestParseErrors(t *testing.T) {
	dir := pipelineDir(t)
	f := func(src, want string) {
		t.Helper()
		_, err := Parse(dir, "weir.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error = %v\nwant it to contain %q", err, want)
		}
	}
	f("streams:\n  clicks:\n    schema: schemas/s.json\n    event_time: {column: ts}\n    partitons: 3\n",
		`weir.yaml:5: streams.clicks: unknown key "partitons"; known keys: event_time, key, max_backlog, partitions, retention, schema`)
	f("streams:\n  clicks:\n    schema: schemas/s.json\n    event_time: {column: ts}\n    partitions: 0\n",
		"weir.yaml:5: streams.clicks.partitions must be an integer from 1 to 256")
	f("streams:\n  clicks:\n    schema: schemas/missing.json\n    event_time: {column: ts}\n", "weir.yaml:3: streams.clicks.schema: cannot read schemas/missing.json")
	f("streams:\n  clicks:\n    schema: schemas/s.json\n    event_time: {column: n}\n", `"n" has type integer; it must be a timestamp`)
	f("streams:\n  clicks:\n    schema: schemas/s.json\n    key: nope\n    event_time: {column: ts}\n", `weir.yaml:4: streams.clicks.key: column "nope" is not in schemas/s.json`)
	f("streams:\n  Clicks:\n    schema: schemas/s.json\n", `weir.yaml:2: streams: name "Clicks" must start with a lower-case letter`)
	f("streams:\n  clicks:\n    schema: schemas/s.json\n    event_time: {column: ts}\nsinks:\n  l: {type: lake, stream: other}\n",
		`weir.yaml:6: sinks.l.stream: "other" is not a declared stream (declared: clicks)`)
	f("streams: [\n", "weir.yaml:1: invalid YAML")
	f("", "the file is empty")
	f("streams:\n  clicks:\n    schema: schemas/s.json\n    event_time: {column: ts, max_disorder: soon}\n", "max_disorder must be a duration like")
}

// TestTables: reference tables from a file, Postgres or a stream, and
// the errors that say what is missing.
func TestTables(t *testing.T) {
	dir := pipelineDir(t)
	os.MkdirAll(filepath.Join(dir, "tables"), 0o755)
	os.WriteFile(filepath.Join(dir, "tables", "u.csv"), []byte("user_id\n"), 0o644)
	const head = "streams:\n  clicks:\n    schema: schemas/s.json\n    event_time: {column: ts}\ntables:\n"
	p, err := Parse(dir, "weir.yaml", []byte(head+`  users: {file: tables/u.csv, schema: schemas/s.json, refresh: 1m}
  customers: {postgres: "postgres://x@h/db", query: SELECT id FROM customers}
  recent: {lake: clicks}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tables) != 3 {
		t.Fatalf("tables = %+v", p.Tables)
	}
	if u := p.Tables[0]; u.Kind != "file" || u.Schema == nil || u.Refresh.Minutes() != 1 {
		t.Fatalf("users = %+v", u)
	}
	if c := p.Tables[1]; c.Kind != "postgres" || c.Query != "SELECT id FROM customers" {
		t.Fatalf("customers = %+v", c)
	}
	if r := p.Tables[2]; r.Kind != "lake" || r.Query != `SELECT * FROM "clicks"` {
		t.Fatalf("recent = %+v", r)
	}
	f := func(tables, want string) {
		t.Helper()
		_, err := Parse(dir, "weir.yaml", []byte(head+tables))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error = %v\nwant it to contain %q", err, want)
		}
	}
	f("  users: {refresh: 1s}\n", "weir.yaml:6: tables.users: say where the rows come from: file: tables/users.csv (with schema:), postgres: <dsn> (with query:), or lake: <stream>")
	f("  users: {file: tables/u.csv, lake: clicks}\n", "tables.users: file and lake are set; a table comes from one of file, postgres and lake")
	f("  users: {file: tables/u.csv}\n", "tables.users: a file table needs schema: schemas/users.json")
	f("  users: {file: tables/nope.csv, schema: schemas/s.json}\n", "weir.yaml:6: tables.users.file: cannot read tables/nope.csv: no such file or directory")
	f("  users: {postgres: dsn}\n", "tables.users: a postgres table needs query:")
	f("  users: {lake: other}\n", `tables.users.lake: "other" is not a declared stream (declared: clicks)`)
	f("  clicks: {lake: clicks}\n", `tables.clicks: "clicks" is also a stream or a lake table`)
	f("  users: {lake: clicks, refresh: 1ms}\n", "tables.users.refresh must be at least 100ms")
	f("  users: {lake: clicks, colour: red}\n", `tables.users: unknown key "colour"; known keys: file, lake, postgres, query, refresh, schema`)
}

func TestParseSizeAndDuration(t *testing.T) {
	for in, want := range map[string]int64{"10": 10, "1KiB": 1024, "2MB": 2e6, "1.5GiB": 3 << 29} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if d, err := ParseDuration("2d"); err != nil || d.Hours() != 48 {
		t.Errorf("ParseDuration(2d) = %v, %v", d, err)
	}
}
