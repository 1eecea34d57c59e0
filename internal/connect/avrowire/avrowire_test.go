package avrowire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/weirhq/weir/internal/schema"
)

// A schema with every kind of value a producer may send.
const wide = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"string"},
 {"name":"qty","type":"int"},
 {"name":"n","type":"long"},
 {"name":"price","type":"double"},
 {"name":"ratio","type":"float"},
 {"name":"ok","type":"boolean"},
 {"name":"note","type":["null","string"],"default":null},
 {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"at_us","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}},
 {"name":"raw","type":"bytes"},
 {"name":"color","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"attrs","type":{"type":"map","values":"long"}},
 {"name":"addr","type":["null",{"type":"record","name":"Addr","fields":[{"name":"city","type":"string"},{"name":"next","type":["null","Addr"],"default":null}]}],"default":null},
 {"name":"code","type":{"type":"fixed","name":"Code","size":2}}
]}`

// TestDecodeMatchesHamba: values written by hamba/avro's encoder (an
// independent writer) transcode to the JSON a person would write.
func TestDecodeMatchesHamba(t *testing.T) {
	sc := avro.MustParse(wide)
	nullable := map[string]schema.Column{"note": {Name: "note", Nullable: true}, "addr": {Name: "addr", Nullable: true}}
	p, err := compileProgram(sc, nullable)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 123_000_000, time.UTC)
	rec := map[string]any{
		"id": "o-1 \"quoted\" ü", "qty": 3, "n": int64(-1) << 40, "price": 12.5, "ratio": float32(0.25), "ok": true,
		"note": map[string]any{"string": "hi"}, "at": at, "at_us": at.Add(456 * time.Microsecond), "day": at,
		"amount": big.NewRat(-12345, 100), "raw": []byte{0, 1, 255}, "color": "GREEN",
		"tags": []any{"a", "b"}, "attrs": map[string]any{"k": int64(7)},
		"addr": map[string]any{"shop.Addr": map[string]any{"city": "Oslo", "next": map[string]any{"shop.Addr": map[string]any{"city": "Bergen", "next": nil}}}},
		"code": [2]byte{'A', 'B'},
	}
	b, err := avro.Marshal(sc, rec)
	if err != nil {
		t.Fatal(err)
	}
	r := avro.NewReader(nil, 0).Reset(b)
	got := p.emit(&state{r: r, size: len(b), items: len(b)}, nil)
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	want := `{"id":"o-1 \"quoted\" ü","qty":3,"n":-1099511627776,"price":12.5,"ratio":0.25,"ok":true,"note":"hi",` +
		`"at":"2026-12-01T10:00:00.123Z","at_us":"2026-12-01T10:00:00.123456Z","day":"2026-12-01","amount":-123.45,"raw":"AAH/",` +
		`"color":"GREEN","tags":["a","b"],"attrs":{"k":7},"addr":{"city":"Oslo","next":{"city":"Bergen","next":null}},"code":"QUI="}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !json.Valid(got) {
		t.Fatal("not valid JSON")
	}
	rec["note"], rec["addr"] = nil, nil
	b, _ = avro.Marshal(sc, rec)
	got = p.emit(&state{r: avro.NewReader(nil, 0).Reset(b), size: len(b), items: len(b)}, nil)
	if !bytes.Contains(got, []byte(`"note":null`)) || !bytes.Contains(got, []byte(`"addr":null`)) {
		t.Fatalf("nulls of nullable columns: %s", got)
	}
	// A null of a column that is not nullable (or not the stream's) is an
	// absent value, as an optional column's must be.
	p, _ = compileProgram(sc, nil)
	got = p.emit(&state{r: avro.NewReader(nil, 0).Reset(b), size: len(b), items: len(b)}, nil)
	if bytes.Contains(got, []byte(`"note"`)) || bytes.Contains(got, []byte(`"addr"`)) || !json.Valid(got) {
		t.Fatalf("nulls of other columns: %s", got)
	}
}

// TestEncodeReadByHamba: rows written by the Encoder under SchemaFor's
// schema read back with hamba/avro as the same values; absent and null
// values as nil.
func TestEncodeReadByHamba(t *testing.T) {
	sc, err := schema.Compile([]byte(`{"type":"object","required":["id","n","at"],"properties":{
	 "id":{"type":"string"},"n":{"type":"integer"},"x":{"type":["number","null"]},"ok":{"type":"boolean"},
	 "at":{"type":"string","format":"date-time"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	js, err := SchemaFor("orders", sc)
	if err != nil {
		t.Fatal(err)
	}
	asc := avro.MustParse(js)
	e := &Encoder{ID: 42, cols: sc.Columns}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		vals := make([]schema.Value, len(sc.Columns))
		want := map[string]any{}
		for i, c := range sc.Columns {
			if !c.Required && rng.IntN(3) == 0 {
				vals[i].Null = true
				want[c.Name] = nil
				continue
			}
			switch c.Type {
			case schema.String:
				s := string(rune('a'+rng.IntN(26))) + "é"
				vals[i].Bytes, want[c.Name] = []byte(s), s
			case schema.Int64:
				n := rng.Int64() - rng.Int64()
				vals[i].Int, want[c.Name] = n, n
			case schema.Float64:
				f := rng.NormFloat64() * 1e6
				vals[i].Float, want[c.Name] = f, f
			case schema.Bool:
				vals[i].Int, want[c.Name] = int64(rng.IntN(2)), rng.IntN(2) == 2 // set below
				want[c.Name] = vals[i].Int == 1
			case schema.Timestamp:
				us := rng.Int64N(4e15)
				vals[i].Int, want[c.Name] = us, time.UnixMicro(us).UTC()
			}
		}
		b := e.Append(nil, vals)
		if b[0] != 0 || b[1] != 0 || b[2] != 0 || b[3] != 0 || b[4] != 42 {
			t.Fatalf("header % x", b[:5])
		}
		var got map[string]any
		if err := avro.Unmarshal(asc, b[5:], &got); err != nil {
			t.Fatal(err)
		}
		for k, w := range want {
			g := got[k]
			if u, ok := g.(map[string]any); ok { // hamba: a union value as {type: value}
				for _, v := range u {
					g = v
				}
			}
			if tm, ok := g.(time.Time); ok {
				g = tm.UTC()
			}
			if g != w {
				t.Fatalf("%s: got %#v, want %#v (row %v)", k, g, w, vals)
			}
		}
	}
}

// TestBadValues: a value not in the wire format or cut short is a
// RecordError naming the problem.
func TestBadValues(t *testing.T) {
	d := &Decoder{progs: map[uint32]*program{}, st: state{r: avro.NewReader(nil, 0)}}
	add := func(id uint32, js string) {
		p, err := compileProgram(avro.MustParse(js), nil)
		if err != nil {
			t.Fatal(err)
		}
		d.progs[id] = p
	}
	add(7, `{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"s","type":"string"}]}`)
	add(8, `{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":"null"}}]}`)
	add(9, `{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}`)
	add(11, `{"type":"record","name":"N","fields":[{"name":"a","type":{"type":"array","items":{"type":"array","items":"null"}}}]}`)
	add(10, `{"type":"record","name":"T","fields":[{"name":"at","type":{"type":"long","logicalType":"timestamp-nanos"}},{"name":"s","type":"string"}]}`)
	f := func(v []byte, want string) {
		t.Helper()
		_, err := d.Append(t.Context(), nil, v)
		re, ok := err.(*RecordError)
		if !ok || !bytes.Contains([]byte(re.Reason), []byte(want)) {
			t.Errorf("% x: error %v, want a RecordError containing %q", v, err, want)
		}
	}
	f([]byte(`{"a":1}`), "not Avro in the Confluent wire format")
	f([]byte{0, 0, 0}, "not Avro in the Confluent wire format")
	f([]byte{0, 0, 0, 0, 7, 2, 10, 'a'}, "does not decode under its Avro schema (id 7)")
	// A block count no value of its size could hold (a value read under the
	// wrong schema) stops at once instead of filling memory.
	f(append([]byte{0, 0, 0, 0, 8}, binary.AppendVarint(nil, 1<<60)...), "a block of 1152921504606846976 items in a value of")
	// Nested arrays of nulls (no bytes per item) share one budget: 40
	// blocks of 40 nulls in an 87-byte value are refused, not 1,600 nulls.
	nested := []byte{0, 0, 0, 0, 11, 80}
	for range 40 {
		nested = append(nested, 80, 0)
	}
	f(append(nested, 0), "a block of 40 items in a value of 87 bytes")
	deep := []byte{0, 0, 0, 0, 9}
	for range 100 {
		deep = append(deep, 2) // branch 1: another L
	}
	f(append(deep, 0), "records nested more than 64 deep")
	f([]byte{0, 0, 0, 0, 7, 2, 2, 'a', 'b'}, "bytes left over")
	got, err := d.Append(t.Context(), []byte("x"), []byte{0, 0, 0, 0, 7, 3, 2, 'a'})
	if err != nil || string(got) != `x{"a":-2,"s":"a"}` {
		t.Fatalf("got %s, %v", got, err)
	}
	// Invalid UTF-8 is passed on as it is, for the gate to refuse (not
	// replaced with U+FFFD and accepted).
	got, err = d.Append(t.Context(), nil, []byte{0, 0, 0, 0, 7, 3, 2, 0xff})
	if err != nil || !bytes.Contains(got, []byte{0xff}) {
		t.Fatalf("invalid UTF-8: %q, %v", got, err)
	}
	// timestamp-nanos, a logical type hamba/avro does not know, is still a time.
	v := binary.AppendVarint([]byte{0, 0, 0, 0, 10}, 1_795_000_000_123_456_789)
	got, err = d.Append(t.Context(), nil, append(v, 0))
	if err != nil || string(got) != `{"at":"2026-11-18T11:06:40.123456789Z","s":""}` {
		t.Fatalf("timestamp-nanos: %s, %v", got, err)
	}
	if _, err := SchemaFor("bad-name", &schema.Schema{}); err == nil {
		t.Error("a record name with a dash was accepted")
	}
	if _, err := compileProgram(avro.MustParse(`"string"`), nil); err == nil {
		t.Error("a top-level string schema was accepted")
	}
}
