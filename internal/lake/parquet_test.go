package lake

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/weirhq/weir/internal/schema"
)

// TestParquetRoundTrip reads a written file back value by value: every
// column type, required and optional, nulls included, across row groups.
func TestParquetRoundTrip(t *testing.T) {
	sc, err := schema.Compile([]byte(`{"type":"object","required":["ts","s","i","f","b"],"properties":{
 "ts":{"type":"string","format":"date-time"},"s":{"type":"string"},"i":{"type":"integer"},"f":{"type":"number"},"b":{"type":"boolean"},
 "os":{"type":["string","null"]},"oi":{"type":["integer","null"]},"of":{"type":"number"},"ob":{"type":"boolean"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	dec := schema.NewDecoder(sc, nil)
	buf := newBuffer(sc.Columns, 0)
	const rows = 2500
	for i := range rows {
		ev := fmt.Sprintf(`{"ts":"2026-11-22T16:00:%02d.%06dZ","s":"s%d","i":%d,"f":%d.5,"b":%t`, i%60, i, i, i*7-100, i, i%3 == 0)
		if i%2 == 0 { // the optional columns are null or absent in odd rows
			ev += fmt.Sprintf(`,"os":"o%d","oi":%d,"of":%d.25,"ob":%t`, i, -i, i, i%4 == 0)
		} else if i%3 == 0 {
			ev += `,"os":null,"oi":null`
		}
		d, err := dec.Decode(nil, []byte(ev+"}"))
		if err != nil {
			t.Fatal(err)
		}
		if err := buf.add(sc.Columns, d.Row); err != nil {
			t.Fatal(err)
		}
	}
	if len(buf.byHour) != 1 {
		t.Fatalf("%d hours, want 1", len(buf.byHour))
	}
	path := filepath.Join(t.TempDir(), "f.parquet")
	for _, c := range buf.byHour {
		if _, err := writeParquet(path, sc.Columns, c, 1000); err != nil { // three row groups
			t.Fatal(err)
		}
	}
	pf := openParquet(t, path)
	if len(pf.RowGroups()) != 3 || pf.NumRows() != rows {
		t.Fatalf("%d row groups, %d rows; want 3 and %d", len(pf.RowGroups()), pf.NumRows(), rows)
	}
	fields := pf.Schema().Fields()
	var got []map[string]any
	for _, rg := range pf.RowGroups() {
		rr := rg.Rows()
		batch := make([]parquet.Row, 64)
		for {
			n, err := rr.ReadRows(batch)
			for _, row := range batch[:n] {
				m := map[string]any{}
				for _, v := range row {
					var x any
					switch {
					case v.IsNull():
					case v.Kind() == parquet.ByteArray:
						x = string(v.ByteArray())
					case v.Kind() == parquet.Int64:
						x = v.Int64()
					case v.Kind() == parquet.Double:
						x = v.Double()
					case v.Kind() == parquet.Boolean:
						x = v.Boolean()
					default:
						t.Fatalf("value of kind %v", v.Kind())
					}
					m[fields[v.Column()].Name()] = x
				}
				got = append(got, m)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		rr.Close()
	}
	if len(got) != rows {
		t.Fatalf("read %d rows, want %d", len(got), rows)
	}
	base := int64(1795363200000000) // 2026-11-22T16:00:00Z in µs
	for i, row := range got {
		want := map[string]any{
			"ts": base + int64(i%60)*1_000_000 + int64(i), "s": fmt.Sprintf("s%d", i), "i": int64(i*7 - 100),
			"f": float64(i) + 0.5, "b": i%3 == 0,
			"os": nil, "oi": nil, "of": nil, "ob": nil,
		}
		if i%2 == 0 {
			want["os"], want["oi"], want["of"], want["ob"] = fmt.Sprintf("o%d", i), int64(-i), float64(i)+0.25, i%4 == 0
		}
		for k, w := range want {
			if g, ok := row[k]; !ok || g != w {
				t.Fatalf("row %d column %s = %v (%T), want %v", i, k, row[k], row[k], w)
			}
		}
	}
}

// TestParquetRequiredColumnKeepsNulls: a row of an older schema version
// lacks a column the current one requires; its cell is written as a null,
// not as 0.
func TestParquetRequiredColumnKeepsNulls(t *testing.T) {
	compile := func(js string) *schema.Schema {
		sc, err := schema.Compile([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	v1 := compile(`{"type":"object","required":["ts"],"properties":{"ts":{"type":"string","format":"date-time"}}}`)
	v2 := compile(`{"type":"object","required":["ts","i"],"properties":{"ts":{"type":"string","format":"date-time"},"i":{"type":"integer"}}}`)
	buf := newBuffer(v2.Columns, 0)
	for _, ev := range []struct {
		sc  *schema.Schema
		raw string
	}{{v1, `{"ts":"2026-11-22T16:00:00Z"}`}, {v2, `{"ts":"2026-11-22T16:00:01Z","i":5}`}} {
		d, err := schema.NewDecoder(ev.sc, nil).Decode(nil, []byte(ev.raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := buf.add(ev.sc.Columns, d.Row); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "f.parquet")
	for _, c := range buf.byHour {
		if _, err := writeParquet(path, v2.Columns, c, 1000); err != nil {
			t.Fatal(err)
		}
	}
	pf := openParquet(t, path)
	rows := make([]parquet.Row, 2)
	rr := pf.RowGroups()[0].Rows()
	defer rr.Close()
	if n, _ := rr.ReadRows(rows); n != 2 {
		t.Fatalf("read %d rows", n)
	}
	col, _ := pf.Schema().Lookup("i")
	var got []string
	for _, r := range rows {
		for _, v := range r {
			if v.Column() == col.ColumnIndex {
				got = append(got, v.String())
			}
		}
	}
	if fmt.Sprint(got) != "[<null> 5]" {
		t.Fatalf("column i reads back %v, want [<null> 5]", got)
	}
}

// openParquet opens a written file for reading until the test ends.
func openParquet(t *testing.T, path string) *parquet.File {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	info, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(fh, info.Size())
	if err != nil {
		t.Fatal(err)
	}
	return pf
}
