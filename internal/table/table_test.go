package table

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/weirhq/weir/internal/connect/postgres/pgtest"
	"github.com/weirhq/weir/internal/schema"
)

const placesSchema = `{"type":"object","required":["code","name"],"additionalProperties":false,
 "properties":{"code":{"type":"string","pattern":"^[A-Z]{2}$"},"name":{"type":"string"},
 "pop":{"type":["integer","null"],"minimum":0},"share":{"type":["number","null"]},"eu":{"type":["boolean","null"]},
 "since":{"type":["string","integer","null"],"format":"date-time"}}}`

func placesTable(t *testing.T, name, content string) (*Table, string, error) {
	t.Helper()
	sc, err := schema.Compile([]byte(placesSchema))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tb, err := Open(context.Background(), Spec{Name: "places", Kind: File, File: path, Schema: sc}, Options{})
	return tb, path, err
}

// dump renders the current rows, one per line.
func dump(tb *Table) string {
	var lines []string
	for _, r := range tb.Current().Rows {
		var cells []string
		for i, v := range r {
			switch {
			case v.Null:
				cells = append(cells, "NULL")
			case tb.cols[i].Type == schema.String:
				cells = append(cells, string(v.Bytes))
			case tb.cols[i].Type == schema.Float64:
				cells = append(cells, fmt.Sprint(v.Float))
			default:
				cells = append(cells, fmt.Sprint(v.Int))
			}
		}
		lines = append(lines, strings.Join(cells, "|"))
	}
	return strings.Join(lines, "\n")
}

// TestFileTables: CSV (header in any order, BOM, CRLF, quoted commas and
// newlines, empty cells as NULL) and NDJSON load through the schema's
// rules; every problem names the file, the line and the field.
func TestFileTables(t *testing.T) {
	ok := func(name, content, want string) {
		t.Helper()
		tb, _, err := placesTable(t, name, content)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := dump(tb); got != want {
			t.Fatalf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	// Columns: code, name, pop, share, eu, since (the schema's order).
	ok("a.csv", "\ufeffname,code,pop,eu\r\n\"Paris, Texas\",US,10,false\r\n\"Line\nbreak\",FR,,true\r\n",
		"US|Paris, Texas|10|NULL|0|NULL\nFR|Line\nbreak|NULL|NULL|1|NULL")
	ok("b.csv", "code,name,share,since\nDE,Germany,0.5,2020-01-02T03:04:05Z\nNL,Netherlands,1e-3,1577934245000\n",
		"DE|Germany|NULL|0.5|NULL|1577934245000000\nNL|Netherlands|NULL|0.001|NULL|1577934245000000")
	ok("c.ndjson", "{\"code\":\"JP\",\"name\":\"Japan\",\"pop\":125}\n\n{\"code\":\"IN\",\"name\":\"India\",\"eu\":null}\n",
		"JP|Japan|125|NULL|NULL|NULL\nIN|India|NULL|NULL|NULL|NULL")
	// The inbox's CSV rules: booleans in any case, a space for the T, cells trimmed.
	ok("d.csv", "code,name,eu,since,pop\nGB,Britain,TRUE,2020-01-02 03:04:05Z, 7 \n",
		"GB|Britain|7|NULL|1|1577934245000000")
	ok("empty.csv", "code,name\n", "")

	bad := func(name, content, want string) {
		t.Helper()
		_, _, err := placesTable(t, name, content)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: got %v, want an error saying %q", name, err, want)
		}
	}
	bad("h.csv", "code,nom\nUS,x\n", `h.csv:1: column "nom" of the header is not in the table's schema (it has code, name, pop, share, eu, since)`)
	bad("r.csv", "code,pop\nUS,1\n", `r.csv:1: the header lacks the required column "name"`)
	bad("d.csv", "code,name,code\n", `column "code" appears twice in the header`)
	bad("z.csv", "", `z.csv is empty: it needs a header row`)
	bad("t.csv", "code,name,pop\nUS,x,1\nFR,y,lots\n", `t.csv:3: field "pop"`)
	bad("p.csv", "code,name\nusa,x\n", `p.csv:2: field "code"`)
	bad("n.csv", "code,name\nUS\n", `n.csv:2: 1 fields, the header has 2`)
	bad("j.ndjson", "{\"code\":\"US\",\"name\":\"x\"}\n{\"code\":\"US\"}\n", `j.ndjson:2: field "name"`)
}

// TestRefresh: a changed file is loaded as a new version; the same rows
// again are not a new version; a broken file keeps the last good one and
// says why until it is mended.
func TestRefresh(t *testing.T) {
	tb, path, err := placesTable(t, "p.csv", "code,name\nUS,x\n")
	if err != nil {
		t.Fatal(err)
	}
	first := tb.Current()
	write := func(content string) {
		t.Helper()
		// A different size or time, as a writer's rename gives.
		later := time.Now().Add(time.Duration(len(content)) * time.Second)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, later, later); err != nil {
			t.Fatal(err)
		}
		tb.Refresh(context.Background())
	}
	tb.Refresh(context.Background())
	if tb.Current() != first {
		t.Fatal("an unchanged file made a new version")
	}
	write("code,name\nUS,x\nFR,y\n")
	if st := tb.Status(); st.Version != 2 || st.Rows != 2 || dump(tb) != "US|x|NULL|NULL|NULL|NULL\nFR|y|NULL|NULL|NULL|NULL" {
		t.Fatalf("after a change: %+v\n%s", st, dump(tb))
	}
	write("code,name\nUS,x\nFR,y\n\n") // the same rows
	if st := tb.Status(); st.Version != 2 {
		t.Fatalf("the same rows made version %d", st.Version)
	}
	write("code,name\nUS\n")
	if st := tb.Status(); st.Version != 2 || st.Rows != 2 || !strings.Contains(st.LastError, "p.csv:2: 1 fields") {
		t.Fatalf("a broken file: %+v", st)
	}
	write("code,name\nGB,z\n")
	if st := tb.Status(); st.Version != 3 || st.LastError != "" || dump(tb) != "GB|z|NULL|NULL|NULL|NULL" {
		t.Fatalf("mended: %+v", st)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	tb.Refresh(context.Background())
	if st := tb.Status(); st.Version != 3 || !strings.Contains(st.LastError, "no such file") {
		t.Fatalf("a removed file keeps the last version: %+v", st)
	}
}

// TestPostgresTable reads a real PostgreSQL: the query's columns and
// types, NULLs, a refresh that sees changed rows, and a type it cannot
// read named with the fix.
func TestPostgresTable(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`CREATE TABLE customers (id bigint PRIMARY KEY, name text, tier varchar(10), credit numeric(10,2), vip boolean, since timestamptz, n int4, f float8)`,
		`INSERT INTO customers VALUES (1, 'Ada', 'gold', 12.5, true, '2026-01-02T03:04:05Z', 7, 0.25), (2, 'Bob', NULL, NULL, false, NULL, NULL, NULL)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	tb, err := Open(ctx, Spec{Name: "customers", Kind: Postgres, DSN: srv.DSN, Query: "SELECT * FROM customers ORDER BY id"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, c := range tb.Columns() {
		types = append(types, c.Name+" "+c.Type.String())
	}
	if got := strings.Join(types, ", "); got != "id integer, name string, tier string, credit number, vip boolean, since timestamp, n integer, f number" {
		t.Fatalf("columns: %s", got)
	}
	if got, want := dump(tb), "1|Ada|gold|12.5|1|1767323045000000|7|0.25\n2|Bob|NULL|NULL|0|NULL|NULL|NULL"; got != want {
		t.Fatalf("rows:\n got %s\nwant %s", got, want)
	}
	if _, err := conn.Exec(ctx, `UPDATE customers SET tier = 'silver' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	tb.Refresh(ctx)
	if st := tb.Status(); st.Version != 2 || !strings.Contains(dump(tb), "2|Bob|silver|") {
		t.Fatalf("after an update: %+v\n%s", st, dump(tb))
	}
	_, err = Open(ctx, Spec{Name: "x", Kind: Postgres, DSN: srv.DSN, Query: "SELECT id, '{1}'::int[] AS ids FROM customers"}, Options{})
	if err == nil || !strings.Contains(err.Error(), `column "ids" has a PostgreSQL type Weir does not read`) || !strings.Contains(err.Error(), "ids::text") {
		t.Fatalf("an array column: got %v", err)
	}
	_, err = Open(ctx, Spec{Name: "x", Kind: Postgres, DSN: srv.DSN, Query: "SELECT * FROM nowhere"}, Options{})
	if err == nil || !strings.Contains(err.Error(), `relation "nowhere" does not exist`) {
		t.Fatalf("a missing table: got %v", err)
	}
	srv.Stop()
	tb.Refresh(ctx)
	if st := tb.Status(); st.Version != 2 || !strings.Contains(st.LastError, "cannot connect to PostgreSQL") {
		t.Fatalf("the server stopped: the table keeps its rows and says why: %+v", st)
	}
}
