package schema

import (
	"encoding/json"
	"testing"
	"time"
)

// AppendJSON writes what encoding/json reads back as the same values, and
// what the decoder accepts again as the same row.
func TestAppendJSON(t *testing.T) {
	sc, err := Compile([]byte(`{"type":"object","required":["s","ts"],"properties":{"s":{"type":"string"},"i":{"type":["integer","null"]},
	 "f":{"type":"number"},"b":{"type":"boolean"},"ts":{"type":"string","format":"date-time"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	f := func(in, want string) {
		t.Helper()
		d, err := NewDecoder(sc, nil).Decode(nil, []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		vals, err := DecodeRow(sc.Columns, d.Row, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := AppendJSON(nil, sc.Columns, vals)
		if string(got) != want {
			t.Fatalf("%s: got %s, want %s", in, got, want)
		}
		if !json.Valid(got) {
			t.Fatalf("%s: invalid JSON", got)
		}
		again, err := NewDecoder(sc, nil).Decode(nil, got)
		if err != nil || string(again.Row) != string(d.Row) {
			t.Fatalf("%s does not decode to the same row: %v", got, err)
		}
	}
	f(`{"s":"a\"b\\c\n\u0001é😀","i":-42,"f":1.5e300,"b":true,"ts":"2026-12-01T10:00:00.123456+01:00"}`,
		`{"s":"a\"b\\c\n\u0001é😀","i":-42,"f":1.5e+300,"b":true,"ts":"2026-12-01T09:00:00.123456Z"}`)
	f(`{"s":"","ts":"2026-12-01T10:00:00Z"}`, `{"s":"","i":null,"ts":"2026-12-01T10:00:00Z"}`)
}

func TestAppendRFC3339Micros(t *testing.T) {
	for _, us := range []int64{0, 1, 1795000000123456, 1795000000120000, 1795000000000000, -1, -62135596800000000, 253402300799999999, 1 << 62, -1 << 62} {
		want := time.UnixMicro(us).UTC().AppendFormat(nil, "2006-01-02T15:04:05.999999Z07:00")
		if got := appendRFC3339Micros(nil, us); string(got) != string(want) {
			t.Errorf("%d: %s, want %s", us, got, want)
		}
	}
}
