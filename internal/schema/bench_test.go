package schema

import (
	"bytes"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// clickstreamSchema is the stream schema shared by the benchmarks, the fuzz
// test and several unit tests.
const clickstreamSchema = `{"type":"object","required":["ts","user_id","url","status"],"additionalProperties":false,"properties":{` +
	`"ts":{"type":["string","integer"],"format":"date-time"},` +
	`"user_id":{"type":"string","minLength":1,"maxLength":64},` +
	`"url":{"type":"string","maxLength":2048},` +
	`"status":{"type":"integer","minimum":100,"maximum":599},` +
	`"amount":{"type":["number","null"],"minimum":0},` +
	`"country":{"type":"string","pattern":"^[A-Z]{2}$"}}}`

// benchEvent is a typical clickstream event of about 200 bytes.
var benchEvent = []byte(`{"ts":"2026-11-22T16:07:00.123456+01:00","user_id":"u_8f14e45fceea167a5a36dedd4bea2543",` +
	`"url":"https://shop.example.com/catalog/shoes/running?color=blue&size=42&ref=newsletter",` +
	`"status":200,"amount":129.95,"country":"DE"}`)

func BenchmarkDecode(b *testing.B) {
	s, err := Compile([]byte(clickstreamSchema))
	if err != nil {
		b.Fatal(err)
	}
	d := NewDecoder(s, []int{s.ColumnIndex("user_id")})
	if _, err := d.Decode(nil, benchEvent); err != nil {
		b.Fatal(err)
	}
	var row []byte
	b.SetBytes(int64(len(benchEvent)))
	b.ReportAllocs()
	for b.Loop() {
		dec, err := d.Decode(row[:0], benchEvent)
		if err != nil {
			b.Fatal(err)
		}
		row = dec.Row
	}
}

// BenchmarkReferenceValidate is the generic validator on the same event, for
// comparison: parsing into map[string]any plus validation.
func BenchmarkReferenceValidate(b *testing.B) {
	sch := compileReference(b, []byte(clickstreamSchema))
	b.SetBytes(int64(len(benchEvent)))
	b.ReportAllocs()
	for b.Loop() {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(benchEvent))
		if err != nil {
			b.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			b.Fatal(err)
		}
	}
}

// compileReference compiles src with github.com/santhosh-tekuri/jsonschema/v6,
// asserting formats as the compiled decoder does.
func compileReference(tb testing.TB, src []byte) *jsonschema.Schema {
	tb.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("s.json", doc); err != nil {
		tb.Fatal(err)
	}
	sch, err := c.Compile("s.json")
	if err != nil {
		tb.Fatal(err)
	}
	return sch
}
