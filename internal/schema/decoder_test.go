package schema

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"
)

func mustCompile(tb testing.TB, src string) *Schema {
	tb.Helper()
	s, err := Compile([]byte(src))
	if err != nil {
		tb.Fatalf("Compile(%s): %v", src, err)
	}
	return s
}

// Expected column values.
func vStr(s string) Value     { return Value{Bytes: []byte(s)} }
func vInt(x int64) Value      { return Value{Int: x} }
func vFloat(f float64) Value  { return Value{Float: f} }
func vBool(b bool) Value      { return Value{Int: map[bool]int64{false: 0, true: 1}[b]} }
func vTime(t time.Time) Value { return Value{Int: t.UnixMicro()} }

var vNull = Value{Null: true}

func utcTime(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

const allTypesSchema = `{"type":"object","required":["s"],"properties":{
	"s":{"type":"string"},
	"i":{"type":["integer","null"]},
	"f":{"type":"number"},
	"b":{"type":"boolean"},
	"t":{"type":"string","format":"date-time"},
	"tm":{"type":["string","integer","null"],"format":"date-time"}}}`

func TestDecodeValues(t *testing.T) {
	s := mustCompile(t, allTypesSchema)
	d := NewDecoder(s, nil)
	f := func(event string, want ...Value) {
		t.Helper()
		prefix := []byte("previous rows")
		res, err := d.Decode(prefix, []byte(event))
		if err != nil {
			t.Errorf("Decode(%s): %v", event, err)
			return
		}
		if !bytes.HasPrefix(res.Row, []byte("previous rows")) {
			t.Fatalf("Decode(%s) clobbered dst: %q", event, res.Row)
		}
		got, err := DecodeRow(s.Columns, res.Row[len(prefix):], nil)
		if err != nil {
			t.Errorf("Decode(%s): DecodeRow: %v", event, err)
			return
		}
		for i, c := range s.Columns {
			if !sameValue(c.Type, got[i], want[i]) {
				t.Errorf("Decode(%s): column %s = %+v (%q), want %+v (%q)", event, c.Name, got[i], got[i].Bytes, want[i], want[i].Bytes)
			}
		}
	}
	// Columns: s, i, f, b, t, tm.
	f(`{"s":"héllo","i":1,"f":1.5,"b":true,"t":"2026-11-22T16:07:00.123456Z","tm":1700000000123}`,
		vStr("héllo"), vInt(1), vFloat(1.5), vBool(true), vTime(utcTime(2026, 11, 22, 16, 7, 0, 123456000)), vInt(1700000000123000))
	f(`{"s":""}`, vStr(""), vNull, vNull, vNull, vNull, vNull)
	f(`{"s":"x","i":null,"tm":null}`, vStr("x"), vNull, vNull, vNull, vNull, vNull)
	f(` {"tm":"2024-02-29t23:30:00.5-01:00", "s" : "x" , "b":false}`+"\n",
		vStr("x"), vNull, vNull, vBool(false), vNull, vTime(utcTime(2024, 3, 1, 0, 30, 0, 500000000)))

	// Integers, however written.
	for text, want := range map[string]int64{
		"0": 0, "-0": 0, "7": 7, "-7": -7, "1.0": 1, "1e2": 100, "1E+2": 100, "2.50e1": 25, "1000e-3": 1, "-0.0": 0, "0e5": 0,
		"9223372036854775807": math.MaxInt64, "-9223372036854775808": math.MinInt64, "-9223372036854775808.0": math.MinInt64,
		"12345678901234567.0": 12345678901234567, "9.223372036854775807e18": math.MaxInt64, "0.0000000000000000000000000001e28": 1,
	} {
		f(`{"s":"","i":`+text+`}`, vStr(""), vInt(want), vNull, vNull, vNull, vNull)
	}
	// Numbers, correctly rounded.
	for text, want := range map[string]float64{
		"0": 0, "3": 3, "-2.5": -2.5, "1e-3": 0.001, "398.259e-3": 0.398259, "0.1": 0.1, "1.7976931348623157e308": math.MaxFloat64,
		"4.9e-324": math.SmallestNonzeroFloat64, "1e-400": 0, "123456789012345678901234567890": 1.2345678901234568e29,
	} {
		f(`{"s":"","f":`+text+`}`, vStr(""), vNull, vFloat(want), vNull, vNull, vNull)
	}
	// Strings with escapes, decoded as encoding/json does.
	for text, want := range map[string]string{
		`"a\"b\\c\/d"`:              `a"b\c/d`,
		`"\b\f\n\r\t"`:              "\b\f\n\r\t",
		`"\u00e9\u00E9é"`:           "ééé",
		`"\ud83d\ude00"`:            "😀",
		`"\ud83d"`:                  "\uFFFD", // a lone surrogate
		`"\ude00x"`:                 "\uFFFDx",
		`"\ud83d\u0041"`:            "\uFFFDA",
		`"\ud83d\ud83d\ude00"`:      "\uFFFD😀",
		`"\u0000"`:                  "\x00",
		`"https:\/\/example.com\/"`: "https://example.com/",
		`"\\u0041"`:                 `\u0041`,
	} {
		f(`{"s":`+text+`}`, vStr(want), vNull, vNull, vNull, vNull, vNull)
	}
	// Timestamps.
	for text, want := range map[string]time.Time{
		`"1970-01-01T00:00:00Z"`:           time.Unix(0, 0),
		`"2026-11-22T16:07:00+05:30"`:      utcTime(2026, 11, 22, 10, 37, 0, 0),
		`"2026-11-22T16:07:00.987654321Z"`: utcTime(2026, 11, 22, 16, 7, 0, 987654000),
		`"1969-12-31T23:59:59.999999Z"`:    utcTime(1969, 12, 31, 23, 59, 59, 999999000),
		`"0001-01-01T00:00:00Z"`:           utcTime(1, 1, 1, 0, 0, 0, 0),
		`"9999-12-31T23:59:59.999999Z"`:    utcTime(9999, 12, 31, 23, 59, 59, 999999000),
		`"\u0032026-11-22T16:07:00\u005a"`: utcTime(2026, 11, 22, 16, 7, 0, 0),
		`0`:                                time.Unix(0, 0),
		`-1`:                               time.UnixMilli(-1),
		`1e3`:                              time.Unix(1, 0),
		`1700000000123.0`:                  time.UnixMilli(1700000000123),
		`-62135596800000`:                  utcTime(1, 1, 1, 0, 0, 0, 0),
		`253402300799999`:                  utcTime(9999, 12, 31, 23, 59, 59, 999000000),
	} {
		f(`{"s":"","tm":`+text+`}`, vStr(""), vNull, vNull, vNull, vNull, vTime(want))
	}
	// Undeclared properties are accepted and dropped; a repeated key's
	// last value counts, as in encoding/json.
	f(`{"s":"x","extra":{"nested":[1,2,{"a":null}]},"more":"y"}`, vStr("x"), vNull, vNull, vNull, vNull, vNull)
	f(`{"s":"first","i":1,"s":"second"}`, vStr("second"), vInt(1), vNull, vNull, vNull, vNull)
}

func TestDecodeAppendsRows(t *testing.T) {
	s := mustCompile(t, clickstreamSchema)
	d := NewDecoder(s, nil)
	events := []string{
		`{"ts":"2026-11-22T16:07:00Z","user_id":"a","url":"/","status":200}`,
		`{"ts":1700000000000,"user_id":"b","url":"/x","status":404,"amount":null,"country":"DE"}`,
		`{"ts":"2026-11-22T16:07:01Z","user_id":"c","url":"/y","status":500,"amount":1.25}`,
	}
	var buf []byte
	var ends []int
	for _, e := range events {
		res, err := d.Decode(buf, []byte(e))
		if err != nil {
			t.Fatal(err)
		}
		buf = res.Row
		ends = append(ends, len(buf))
	}
	start := 0
	for i, end := range ends {
		vals, err := DecodeRow(s.Columns, buf[start:end], nil)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if got, want := string(vals[1].Bytes), string(rune('a'+i)); got != want {
			t.Errorf("row %d: user_id = %q, want %q", i, got, want)
		}
		start = end
	}
}

const rulesSchema = `{"type":"object","required":["id","n"],"additionalProperties":false,"properties":{
	"id":{"type":"string","minLength":2,"maxLength":4},
	"n":{"type":"integer","minimum":1,"maximum":10},
	"x":{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1},
	"m":{"type":"number","multipleOf":0.1},
	"k":{"type":"integer","multipleOf":3},
	"e":{"type":["string","null"],"enum":["red","green",null]},
	"en":{"type":["string","null"],"enum":["red"]},
	"p":{"type":"string","pattern":"^[a-z]+$"},
	"b":{"type":"boolean","const":true},
	"t":{"type":["string","integer"],"format":"date-time"},
	"ts":{"type":"string","format":"date-time","enum":["2026-01-01T00:00:00Z"]},
	"ni":{"type":"integer","enum":[1,2]},
	"fe":{"type":"number","enum":[0.5,1]},
	"te":{"type":["string","integer"],"format":"date-time","const":1000},
	"big":{"type":"integer","maximum":9007199254740992},
	"min0":{"type":"number","minimum":0},
	"none":{"type":"string","enum":[]}}}`

func TestDecodeViolations(t *testing.T) {
	s := mustCompile(t, rulesSchema)
	d := NewDecoder(s, []int{0})
	good := func(event string) {
		t.Helper()
		if _, err := d.Decode(nil, []byte(event)); err != nil {
			t.Errorf("Decode(%s): %v", event, err)
		}
	}
	bad := func(event, field, rule string) {
		t.Helper()
		dst := make([]byte, 3, 256)
		copy(dst, "abc")
		res, err := d.Decode(dst, []byte(event))
		var v *Violation
		if !errors.As(err, &v) {
			t.Errorf("Decode(%q) = %v, want a *Violation of %s/%s", event, err, field, rule)
			return
		}
		if v.Field != field || v.Rule != rule {
			t.Errorf("Decode(%q): field %q rule %q (%v), want field %q rule %q", event, v.Field, v.Rule, v, field, rule)
		}
		if v.Detail == "" || !strings.Contains(v.Error(), v.Detail) || field != "" && !strings.Contains(v.Error(), field) {
			t.Errorf("Decode(%q): message %q", event, v.Error())
		}
		if len(res.Row) != 3 || cap(res.Row) != 256 || &res.Row[0] != &dst[0] || string(res.Row) != "abc" {
			t.Errorf("Decode(%q) failed but returned Row %q (len %d, cap %d), not dst", event, res.Row, len(res.Row), cap(res.Row))
		}
		if res.KeyHash != 0 {
			t.Errorf("Decode(%q) failed but returned a KeyHash", event)
		}
	}
	ev := func(extra string) string { return `{"id":"ab","n":5` + extra + `}` }

	good(ev(""))
	bad(`{"n":5}`, "id", "required")
	bad(`{"id":"ab"}`, "n", "required")
	bad(`{}`, "id", "required")

	// Types.
	bad(ev(`,"id":5`), "id", "type")
	bad(ev(`,"id":["ab"]`), "id", "type")
	bad(ev(`,"id":{"a":"b"}`), "id", "type")
	bad(ev(`,"id":null`), "id", "type")
	bad(ev(`,"id":"a`+"\xff"+`b"`), "id", "type") // invalid UTF-8
	bad(ev(`,"id":"`+"\xed\xa0\x80"+`x"`), "id", "type")
	bad(ev(`,"n":"5"`), "n", "type")
	bad(ev(`,"n":5.5`), "n", "type")
	bad(ev(`,"n":5.0000000000000001`), "n", "type")
	bad(ev(`,"n":5e-1`), "n", "type")
	bad(ev(`,"n":true`), "n", "type")
	bad(ev(`,"n":null`), "n", "type")
	bad(ev(`,"n":9223372036854775808`), "n", "type") // outside int64
	bad(ev(`,"n":1e19`), "n", "type")
	bad(ev(`,"x":"0.5"`), "x", "type")
	bad(ev(`,"x":1e309`), "x", "type") // outside float64
	bad(ev(`,"b":"true"`), "b", "type")
	bad(ev(`,"b":1`), "b", "type")
	bad(ev(`,"t":true`), "t", "type")
	bad(ev(`,"t":1.5`), "t", "type")
	bad(ev(`,"ts":1700000000000`), "ts", "type") // epoch ms only with ["string","integer"]
	good(ev(`,"n":5.0,"k":3e0,"x":0.5,"b":true,"t":1000,"id":"abcd"`))

	// Numbers.
	bad(ev(`,"n":0`), "n", "minimum")
	good(ev(`,"n":1`))
	good(ev(`,"n":10`))
	bad(ev(`,"n":11`), "n", "maximum")
	bad(ev(`,"n":10.0e0`+`,"n":1e1,"n":11`), "n", "maximum") // the last value of a repeated key
	bad(ev(`,"x":0`), "x", "exclusiveMinimum")
	bad(ev(`,"x":-0.0`), "x", "exclusiveMinimum")
	bad(ev(`,"x":1`), "x", "exclusiveMaximum")
	good(ev(`,"x":1e-300`))
	good(ev(`,"x":0.9999999999999999`))
	// Compared exactly where float64 cannot tell: 1e-400 is 0 as a
	// float64, and 0.99999999999999999999 is 1.
	good(ev(`,"x":1e-400`))
	good(ev(`,"x":0.99999999999999999999`))
	bad(ev(`,"x":-1e-400`), "x", "exclusiveMinimum")
	bad(ev(`,"x":1.00000000000000000001`), "x", "exclusiveMaximum")
	good(ev(`,"min0":0`))
	good(ev(`,"min0":0.0`))
	good(ev(`,"min0":-0`))
	bad(ev(`,"min0":-1e-400`), "min0", "minimum")
	bad(ev(`,"min0":-1e-99999999`), "min0", "minimum")
	good(ev(`,"big":9007199254740992`))
	bad(ev(`,"big":9007199254740993`), "big", "maximum") // the same float64 as the maximum
	good(ev(`,"m":0.3`))                                 // 0.3 / 0.1 is 2.9999999999999996 in float64
	good(ev(`,"m":19.9`))
	good(ev(`,"m":-0.7`))
	good(ev(`,"m":1e2`))
	good(ev(`,"m":0`))
	good(ev(`,"m":0e-99999999`))
	bad(ev(`,"m":0.35`), "m", "multipleOf")
	bad(ev(`,"m":19.99`), "m", "multipleOf")
	bad(ev(`,"m":1e-99999999`), "m", "multipleOf")
	bad(ev(`,"m":0.30000000000000001`), "m", "multipleOf")
	good(ev(`,"k":9`))
	good(ev(`,"k":-3`))
	good(ev(`,"k":0`))
	good(ev(`,"k":3e1`))
	bad(ev(`,"k":10`), "k", "multipleOf")
	bad(ev(`,"k":1e1`), "k", "multipleOf")

	// Strings: lengths count characters, not bytes.
	bad(ev(`,"id":""`), "id", "minLength")
	bad(ev(`,"id":"a"`), "id", "minLength")
	bad(ev(`,"id":"😀"`), "id", "minLength") // 4 bytes, 1 character
	good(ev(`,"id":"😀😀"`))
	good(ev(`,"id":"😀😀😀😀"`))
	good(ev(`,"id":"\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00"`))
	bad(ev(`,"id":"😀😀😀😀😀"`), "id", "maxLength")
	bad(ev(`,"id":"abcde"`), "id", "maxLength")
	good(ev(`,"id":"éé"`))
	good(ev(`,"id":"\ud83d\ud83d"`)) // two U+FFFD
	bad(ev(`,"id":"\ud83d"`), "id", "minLength")
	good(ev(`,"p":"abc"`))
	bad(ev(`,"p":"ABC"`), "p", "pattern")
	bad(ev(`,"p":""`), "p", "pattern")
	bad(ev(`,"p":"abc\n"`), "p", "pattern")

	// Enum and const.
	good(ev(`,"e":"red"`))
	good(ev(`,"e":null`))
	bad(ev(`,"e":"blue"`), "e", "enum")
	bad(ev(`,"e":"Red"`), "e", "enum")
	good(ev(`,"en":"red"`))
	bad(ev(`,"en":null`), "en", "enum")
	good(ev(`,"b":true`))
	bad(ev(`,"b":false`), "b", "enum")
	good(ev(`,"ni":2`))
	good(ev(`,"ni":2.0`))
	bad(ev(`,"ni":3`), "ni", "enum")
	good(ev(`,"fe":0.5`))
	good(ev(`,"fe":5e-1`))
	good(ev(`,"fe":1.000`))
	bad(ev(`,"fe":0.50000000000000000001`), "fe", "enum")
	bad(ev(`,"fe":0.6`), "fe", "enum")
	good(ev(`,"ts":"2026-01-01T00:00:00Z"`))
	bad(ev(`,"ts":"2026-01-01T00:00:00.000Z"`), "ts", "enum") // the same instant, another string
	good(ev(`,"te":1000`))
	good(ev(`,"te":1e3`))
	bad(ev(`,"te":1001`), "te", "enum")
	bad(ev(`,"te":"1970-01-01T00:00:01Z"`), "te", "enum")
	bad(ev(`,"none":"x"`), "none", "enum")
	bad(ev(`,"none":""`), "none", "enum")

	// Timestamps.
	good(ev(`,"t":"2026-02-28T12:00:00+01:00"`))
	bad(ev(`,"t":"2026-02-29T12:00:00Z"`), "t", "format")
	bad(ev(`,"t":"2026-13-01T00:00:00Z"`), "t", "format")
	bad(ev(`,"t":"2026-01-01T00:00:00"`), "t", "format")
	bad(ev(`,"t":"2026-01-01"`), "t", "format")
	bad(ev(`,"t":""`), "t", "format")
	bad(ev(`,"t":"\ud83d"`), "t", "format")
	good(ev(`,"t":-62135596800000`))
	good(ev(`,"t":253402300799999`))
	bad(ev(`,"t":-62135596800001`), "t", "format") // before 0001-01-01
	bad(ev(`,"t":253402300800000`), "t", "format") // after 9999-12-31
	bad(ev(`,"t":1e300`), "t", "format")
	bad(ev(`,"t":-9223372036854775809`), "t", "format")

	// Undeclared properties, with additionalProperties false.
	bad(ev(`,"zz":1`), "zz", "additionalProperties")
	bad(`{"zz":null,"id":"ab","n":5}`, "zz", "additionalProperties")
	bad(ev(`,"ID":"ab"`), "ID", "additionalProperties")

	// Not an object, not JSON.
	bad(`[]`, "", "type")
	bad(`[{"id":"ab","n":5}]`, "", "type")
	bad(`"x"`, "", "type")
	bad(`5`, "", "type")
	bad(`null`, "", "type")
	bad(``, "", "json")
	bad(` `, "", "json")
	bad(`{`, "", "json")
	bad(`{"id":"ab","n":5`, "", "json")
	bad(`{"id":"ab","n":5,}`, "", "json")
	bad(`{"id":"ab","n":5}}`, "", "json")
	bad(`{"id":"ab","n":5} {}`, "", "json")
	bad(`{"id":'ab',"n":5}`, "", "json")
	bad(`{id:"ab","n":5}`, "", "json")
	bad(`{"id":"ab","n":05}`, "", "json")
	bad(`{"id":"ab","n":+5}`, "", "json")
	bad(`{"id":"ab","n":5.}`, "", "json")
	bad(`{"id":"ab","n":.5}`, "", "json")
	bad(`{"id":"ab","n":5e}`, "", "json")
	bad(`{"id":"ab","n":--5}`, "", "json")
	bad(`{"id":"ab","n":5,"x":NaN}`, "", "json")
	bad(`{"id":"ab","n":5,"x":Infinity}`, "", "json")
	bad(`{"id":"ab","n":5,"x":-inf}`, "", "json")
	bad(`{"id":"ab","n":5,"x":1.2.3}`, "", "json")
	bad(`{"id":"a\q","n":5}`, "", "json")
	bad(`{"id":"a\`+"\xc3\xa9"+`","n":5}`, "", "json")
	bad(`{"id":"a\u12G4","n":5}`, "", "json")
	bad(`{"id":"a\u12","n":5}`, "", "json")
	bad(`{"id":"a`+"\t"+`b","n":5}`, "", "json")
	bad(`{"id":"a`+"\n"+`b","n":5}`, "", "json")
	bad(`{"id":"ab","n":5,"p":tru}`, "", "json")
	bad(`{"id":"ab","n":5,"p":nul}`, "", "json")
	bad(`{"id":"ab","n":5,"zz":[1,]}`, "", "json")
	bad("\xef\xbb\xbf"+`{"id":"ab","n":5}`, "", "json") // a byte order mark
	bad(`{"id":"ab","n":5,"zz":`+strings.Repeat("[", 400)+strings.Repeat("]", 400)+`}`, "", "json")

	// The decoder is fine after all that.
	good(ev(`,"e":"green"`))
}

// TestDecodeArrayElements follows the gate's JSON-array path: fastjson
// splits the array leniently, each element is marshalled back to its text,
// and Decode must still judge that text strictly.
func TestDecodeArrayElements(t *testing.T) {
	s := mustCompile(t, rulesSchema)
	d := NewDecoder(s, nil)
	var p fastjson.Parser
	arr, err := p.Parse(`[{"id":"ab","n":5,"m":0.3}, {"id":"ab","n":NaN}, {"id":"a\x","n":5}, {"id":"ab","n":05},
		{"id":"\ud83d\ude00\ud83d","n":5}, {"id":"a","n":5}, 7]`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "json", "json", "json", "", "minLength", "type"}
	for i, el := range arr.GetArray() {
		res, err := d.Decode(nil, el.MarshalTo(nil))
		rule := ""
		var v *Violation
		if errors.As(err, &v) {
			rule = v.Rule
		} else if err != nil {
			t.Fatalf("element %d: %v", i, err)
		}
		if rule != want[i] {
			t.Errorf("element %d: rule %q (%v), want %q", i, rule, err, want[i])
		}
		if i == 4 && err == nil {
			vals, _ := DecodeRow(s.Columns, res.Row, nil)
			if got := string(vals[0].Bytes); got != "😀\uFFFD" {
				t.Errorf("element 4: id = %q", got)
			}
		}
	}
}

func TestKeyHash(t *testing.T) {
	s := mustCompile(t, `{"type":"object","properties":{
		"user":{"type":["string","null"]},"region":{"type":["string","null"]},"n":{"type":["integer","null"]},
		"other":{"type":"string"},"f":{"type":"number"}}}`)
	keyed := NewDecoder(s, []int{s.ColumnIndex("user"), s.ColumnIndex("region"), s.ColumnIndex("n")})
	hash := func(event string) uint64 {
		t.Helper()
		res, err := keyed.Decode(nil, []byte(event))
		if err != nil {
			t.Fatalf("Decode(%s): %v", event, err)
		}
		return res.KeyHash
	}
	same := func(a, b string) {
		t.Helper()
		if ha, hb := hash(a), hash(b); ha != hb {
			t.Errorf("KeyHash differs for\n %s (%x)\n %s (%x)", a, ha, b, hb)
		}
	}
	differ := func(a, b string) {
		t.Helper()
		if ha, hb := hash(a), hash(b); ha == hb {
			t.Errorf("KeyHash is %x for both\n %s\n %s", ha, a, b)
		}
	}
	base := `{"user":"u1","region":"eu","n":1,"other":"x","f":1.5}`
	same(base, base)
	same(base, `{"user":"u1","region":"eu","n":1,"other":"y","f":2}`)  // non-key columns
	same(base, `{"user":"u1","region":"eu","n":1}`)                    // non-key columns absent
	same(base, `{"f":9,"n":1,"region":"eu","user":"u1","extra":[1]}`)  // property order, undeclared properties
	same(base, `{"user":"u\u0031","region":"eu","n":1.0}`)             // the same values, written differently
	same(`{"user":null,"region":"eu","n":1}`, `{"region":"eu","n":1}`) // null and absent
	differ(base, `{"user":"u2","region":"eu","n":1}`)                  // each key column
	differ(base, `{"user":"u1","region":"us","n":1}`)
	differ(base, `{"user":"u1","region":"eu","n":2}`)
	differ(base, `{"user":"u1","region":"eu","n":null}`)
	differ(`{"user":"ab","region":"c"}`, `{"user":"a","region":"bc"}`) // no ambiguity at boundaries
	differ(`{"user":"","region":null}`, `{"user":null,"region":""}`)   // empty is not null
	differ(`{"user":"","region":""}`, `{"user":null,"region":null}`)
	differ(`{"user":"eu","region":"u1","n":1}`, `{"user":"u1","region":"eu","n":1}`) // key order matters

	// Hashes do not depend on the decoder's history.
	fresh := NewDecoder(s, []int{s.ColumnIndex("user"), s.ColumnIndex("region"), s.ColumnIndex("n")})
	res, err := fresh.Decode(nil, []byte(base))
	if err != nil || res.KeyHash != hash(base) {
		t.Errorf("a fresh decoder hashes %s to %x, want %x (%v)", base, res.KeyHash, hash(base), err)
	}

	// Without key columns every record hashes alike.
	unkeyed := NewDecoder(s, nil)
	a, _ := unkeyed.Decode(nil, []byte(base))
	b, _ := unkeyed.Decode(nil, []byte(`{"user":"zz"}`))
	if a.KeyHash != b.KeyHash {
		t.Errorf("without key columns: %x != %x", a.KeyHash, b.KeyHash)
	}
}

// TestShortDecimal64 holds the fast float path to strconv.ParseFloat, bit
// for bit (the sign of zero included), on random short decimals.
func TestShortDecimal64(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(s string) {
		t.Helper()
		got, ok := parseShortDecimal([]byte(s))
		want, err := strconv.ParseFloat(s, 64)
		if ok && (err != nil || math.Float64bits(got) != math.Float64bits(want)) {
			t.Fatalf("parseShortDecimal(%q) = %v, strconv says %v (%v)", s, got, want, err)
		}
	}
	for _, s := range []string{"0", "-0", "0.0", "-0.0", "1", "129.95", "0.1", "0.3", "999999999999999", "99999999999999.9",
		"0.000000000000001", "123456789012345", "1234567890123456", "1.", ".5", "-", ""} {
		check(s)
	}
	for range 200000 {
		digits := 1 + r.IntN(15)
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteByte('-')
		}
		point := r.IntN(digits + 1)
		for i := range digits {
			if i == point && i > 0 {
				b.WriteByte('.')
			}
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		check(b.String())
	}
	if _, ok := parseShortDecimal([]byte("1234567890123456")); ok {
		t.Fatal("16 digits took the fast path")
	}
}

// TestDateCache: timestamps parsed through the cache agree with
// ParseRFC3339Micros, whatever the previous one was.
func TestDateCache(t *testing.T) {
	var c dateCache
	for _, s := range []string{"2026-11-22T16:07:00Z", "2026-11-22T16:07:01.5+01:00", "2026-11-22T25:00:00Z",
		"2026-11-23T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-23T00:00:00z", "2026-11-23 00:00:00Z",
		"2024-02-29T23:59:59.999999Z", "2024-02-29T00:00:00-23:59", "2026-11-22T16:07:00Z"} {
		got, gotOK := c.parse([]byte(s))
		want, wantOK := ParseRFC3339Micros([]byte(s))
		if got != want || gotOK != wantOK {
			t.Fatalf("%s: cache gives %d %v, ParseRFC3339Micros %d %v", s, got, gotOK, want, wantOK)
		}
	}
}
