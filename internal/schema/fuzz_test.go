package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var fuzzDecodeSeeds = []string{
	`{"ts":"2026-11-22T16:07:00.123Z","user_id":"u1","url":"https://example.com/","status":200,"amount":12.5,"country":"DE"}`,
	`{"ts":1700000000000,"user_id":"\u00e9\ud83d\ude00","url":"","status":599,"amount":null}`,
	`{"ts":"2026-11-22t16:07:00+05:30","user_id":"x","url":"\/a\/b","status":1e2,"amount":0}`,
	`{"ts":"2026-02-29T00:00:00Z","user_id":"x","url":"/","status":200}`,
	`{"ts":"2026-11-22T16:07:00Z","user_id":"","url":"/","status":200}`,
	`{"ts":"2026-11-22T16:07:00Z","user_id":"x","url":"/","status":200.5,"country":"de"}`,
	`{"ts":"2026-11-22T16:07:00Z","user_id":"x","url":"/","status":200,"amount":-1e-400}`,
	`{"ts":"2026-11-22T16:07:00Z","user_id":"x","url":"/","status":200,"extra":true}`,
	`{"ts":253402300800000,"user_id":"\ud83d","url":"/","status":0100}`,
	`{"ts":"2026-11-22T16:07:00Z","user_id":"x","url":"/","status":NaN}`,
	`[{"ts":1}]`,
	`{"user_id":"a\x"}`,
	"{\"user_id\":\"a\xffb\"}",
	``,
}

// FuzzDecode feeds arbitrary bytes to a decoder. It must not panic; it
// refuses for rule "json" exactly what encoding/json refuses (or nests
// deeper than it allows); what it accepts must decode back into the values
// encoding/json reads, and be valid for the reference validator too (our
// deviations from it all refuse more, never less).
func FuzzDecode(f *testing.F) {
	s := mustCompile(f, clickstreamSchema)
	ref := compileReference(f, []byte(clickstreamSchema))
	for _, e := range fuzzDecodeSeeds {
		f.Add([]byte(e))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(s, []int{1, 0})
		dst := []byte("row0")
		res, err := d.Decode(dst, data)
		if err != nil {
			var v *Violation
			if !errors.As(err, &v) {
				t.Fatalf("Decode(%q) returned %T %v, not a *Violation", data, err, err)
			}
			if !bytes.Equal(res.Row, dst) {
				t.Fatalf("Decode(%q) failed (%v) but changed the row buffer to %q", data, err, res.Row)
			}
			if isJSON := json.Valid(data); v.Rule == "json" && isJSON && !strings.Contains(v.Detail, "nested deeper") {
				t.Fatalf("Decode(%q) says %v, but it is JSON", data, err)
			} else if v.Rule != "json" && !isJSON {
				t.Fatalf("Decode(%q) says %v, but it is not JSON", data, err)
			}
			return
		}
		if !bytes.HasPrefix(res.Row, dst) {
			t.Fatalf("Decode(%q) clobbered dst: %q", data, res.Row)
		}
		vals, err := DecodeRow(s.Columns, res.Row[len(dst):], nil)
		if err != nil {
			t.Fatalf("Decode(%q) made a row DecodeRow refuses: %v", data, err)
		}
		if len(vals) != len(s.Columns) {
			t.Fatalf("Decode(%q): %d values for %d columns", data, len(vals), len(s.Columns))
		}
		if !json.Valid(data) {
			t.Fatalf("Decode accepted %q, which is not JSON", data)
		}
		if refErr := referenceVerdictSafe(ref, data); refErr != nil {
			t.Fatalf("Decode accepted %q, the reference refuses it: %v", data, refErr)
		}
		checkValues(t, s, data, vals)
	})
}

// checkValues compares the values the decoder stored for the event data
// with what encoding/json reads from it.
func checkValues(t *testing.T, s *Schema, data []byte, vals []Value) {
	t.Helper()
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		t.Fatalf("encoding/json cannot read %q, which Decode accepted: %v", data, err)
	}
	for i, c := range s.Columns {
		x, present := obj[c.Name]
		got := vals[i]
		if !present || x == nil {
			if !got.Null {
				t.Fatalf("Decode(%q): column %s is %+v, want null", data, c.Name, got)
			}
			continue
		}
		ok := true
		switch c.Type {
		case String:
			ok = string(got.Bytes) == x.(string)
		case Int64:
			n, err := strconv.ParseInt(string(x.(json.Number)), 10, 64)
			ok = err != nil || n == got.Int // 1e2 and 1.0 are integers too
		case Float64:
			f, _ := strconv.ParseFloat(string(x.(json.Number)), 64)
			ok = f == got.Float
		case Timestamp:
			if n, isNum := x.(json.Number); isNum {
				ms, err := strconv.ParseInt(string(n), 10, 64)
				ok = err != nil || ms*1000 == got.Int
			} else {
				us, valid := ParseRFC3339Micros([]byte(x.(string)))
				ok = valid && us == got.Int
			}
		}
		if !ok {
			t.Fatalf("Decode(%q): column %s is %+v, encoding/json reads %#v", data, c.Name, got, x)
		}
	}
}

// referenceVerdictSafe is referenceVerdict, but it gives up (returns nil)
// where the reference itself fails: it panics on numbers whose exponent
// big.Rat refuses (beyond ±1e6).
func referenceVerdictSafe(sch *jsonschema.Schema, data []byte) (err error) {
	defer func() {
		if recover() != nil {
			err = nil
		}
	}()
	return referenceVerdict(sch, string(data))
}
