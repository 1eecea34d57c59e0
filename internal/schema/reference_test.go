package schema

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The compiled decoder must give the same verdicts as a generic JSON Schema
// validator, github.com/santhosh-tekuri/jsonschema/v6, on the subset it
// supports. These deviations are documented, and the generator leaves them
// out:
//
//   - strings that are not valid UTF-8: we refuse them, encoding/json
//     replaces the bad bytes with U+FFFD;
//   - integers outside int64, numbers outside float64: we refuse them;
//   - leap seconds (second 60): we refuse them, as time.Parse does;
//   - timestamps outside years 0001–9999, as strings or epoch milliseconds:
//     we refuse them;
//   - hour, minute or second fields with a sign ("+1:00:00"), which the
//     reference's strconv.Atoi takes.

var referenceSeed = flag.Uint64("reference.seed", 0, "seed for TestReferenceAgreement (0: random)")

// refProp generates values for one property: mostly valid ones from good,
// near misses from bad.
type refProp struct {
	name      string
	good, bad func(r *rand.Rand) string
}

type refCase struct {
	name   string
	schema string
	props  []refProp
}

func refCases() []refCase {
	return []refCase{
		{"clickstream", clickstreamSchema, []refProp{
			{"ts", genTimestampOrMillis, badTimestamp},
			{"user_id", func(r *rand.Rand) string { return genString(r, 1, 64) }, func(r *rand.Rand) string {
				return oneOf(r, genString(r, 0, 0), genString(r, 65, 70), wrongType(r, "string"))
			}},
			{"url", func(r *rand.Rand) string { return genString(r, 0, 2048) }, func(r *rand.Rand) string {
				return oneOf(r, genString(r, 2049, 2052), wrongType(r, "string"))
			}},
			{"status", func(r *rand.Rand) string { return genNumber(r, "100", "200", "404", "599") }, func(r *rand.Rand) string {
				return oneOf(r, nearNumber(r, "99", "600", "200.5", "-200"), wrongType(r, "number"))
			}},
			{"amount", func(r *rand.Rand) string { return oneOf(r, "null", genNumber(r, "0", "0.01", "129.95", "1e6")) },
				func(r *rand.Rand) string {
					return oneOf(r, nearNumber(r, "-0.01", "-1e-300", "-5", "0"), wrongType(r, "number"))
				}},
			{"country", func(r *rand.Rand) string { return oneOf(r, `"DE"`, `"US"`, `"\u0046R"`, genUpper(r, 2)) },
				func(r *rand.Rand) string {
					return oneOf(r, `"de"`, `"DEU"`, `"D"`, `""`, `"DE\n"`, genUpper(r, 3), genString(r, 2, 2), wrongType(r, "string"))
				}},
		}},

		{"orders", `{"type":"object","title":"orders","description":"every keyword",
			"required":["id","qty","ok","at"],
			"properties":{
				"id":{"type":"string","minLength":2,"maxLength":5,"pattern":"^[a-zé😀\\-]*$"},
				"qty":{"type":"integer","minimum":-5,"maximum":50,"multipleOf":5},
				"price":{"type":["number","null"],"exclusiveMinimum":0,"exclusiveMaximum":100,"multipleOf":0.01},
				"ratio":{"type":"number","minimum":-1.5,"maximum":1.5,"multipleOf":0.25},
				"ok":{"type":"boolean"},
				"flag":{"type":["boolean","null"],"const":true},
				"color":{"type":["string","null"],"enum":["red","green","blue",null]},
				"size":{"type":"integer","enum":[1,2,3,5.0]},
				"level":{"type":"number","enum":[0.5,1,2.5,"x"]},
				"at":{"type":"string","format":"date-time"},
				"seen":{"type":["string","integer","null"],"format":"date-time"},
				"tag":{"type":"string","const":"x"},
				"mode":{"type":"string","enum":["a","b"],"const":"b"},
				"ex":{"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":10},
				"big":{"type":"integer","minimum":-18014398509481985,"maximum":18014398509481985},
				"tiny":{"type":"number","exclusiveMinimum":0,"maximum":1e-300},
				"desc":{"type":"string","description":"always empty","maxLength":0}}}`,
			[]refProp{
				{"id", func(r *rand.Rand) string { return genIdent(r, 2, 5) }, func(r *rand.Rand) string {
					return oneOf(r, genIdent(r, 0, 1), genIdent(r, 6, 8), genString(r, 2, 5), wrongType(r, "string"))
				}},
				{"qty", func(r *rand.Rand) string { return genNumber(r, "-5", "0", "5", "25", "50") }, func(r *rand.Rand) string {
					return oneOf(r, nearNumber(r, "-10", "55", "3", "2.5", "-6"), wrongType(r, "number"))
				}},
				{"price", func(r *rand.Rand) string { return oneOf(r, "null", genNumber(r, "0.01", "19.99", "99.99", "42")) },
					func(r *rand.Rand) string {
						return oneOf(r, nearNumber(r, "0", "100", "0.005", "19.995", "-1"), wrongType(r, "number"))
					}},
				{"ratio", func(r *rand.Rand) string { return genNumber(r, "-1.5", "-0.25", "0", "0.75", "1.5") },
					func(r *rand.Rand) string {
						return oneOf(r, nearNumber(r, "1.75", "-1.75", "0.1", "1.3"), wrongType(r, "number"))
					}},
				{"ok", func(r *rand.Rand) string { return oneOf(r, "true", "false") }, func(r *rand.Rand) string { return wrongType(r, "boolean") }},
				{"flag", func(r *rand.Rand) string { return oneOf(r, "true", "null") }, func(r *rand.Rand) string {
					return oneOf(r, "false", wrongType(r, "boolean"))
				}},
				{"color", func(r *rand.Rand) string { return oneOf(r, `"red"`, `"green"`, `"blue"`, `"\u0072ed"`, "null") },
					func(r *rand.Rand) string {
						return oneOf(r, `"Red"`, `"yellow"`, `""`, `"red "`, wrongType(r, "string"))
					}},
				{"size", func(r *rand.Rand) string { return genNumber(r, "1", "2", "3", "5") }, func(r *rand.Rand) string {
					return oneOf(r, nearNumber(r, "4", "0", "6", "1.5"), wrongType(r, "number"))
				}},
				{"level", func(r *rand.Rand) string { return genNumber(r, "0.5", "1", "2.5") }, func(r *rand.Rand) string {
					return oneOf(r, nearNumber(r, "0.25", "2", "0"), `"x"`, wrongType(r, "number"))
				}},
				{"at", genTimestamp, badTimestamp},
				{"seen", func(r *rand.Rand) string { return oneOf(r, "null", genTimestampOrMillis(r)) }, badTimestamp},
				{"tag", func(r *rand.Rand) string { return oneOf(r, `"x"`, `"\u0078"`) }, func(r *rand.Rand) string {
					return oneOf(r, `"X"`, `"xx"`, `""`, wrongType(r, "string"))
				}},
				{"mode", func(r *rand.Rand) string { return `"b"` }, func(r *rand.Rand) string { return oneOf(r, `"a"`, `"c"`, wrongType(r, "string")) }},
				{"ex", func(r *rand.Rand) string { return genNumber(r, "1", "5", "9") }, func(r *rand.Rand) string {
					return oneOf(r, nearNumber(r, "0", "10", "-1", "11"), wrongType(r, "number"))
				}},
				{"big", func(r *rand.Rand) string {
					return genNumber(r, "-18014398509481985", "18014398509481985", "18014398509481984", "0", "123456789012345")
				}, func(r *rand.Rand) string {
					// 18014398509481986 has the float64 of the maximum.
					return oneOf(r, nearNumber(r, "18014398509481986", "-18014398509481986", "18014398509481990", "9223372036854775807"), wrongType(r, "number"))
				}},
				{"tiny", func(r *rand.Rand) string { return genNumber(r, "1e-300", "5e-301", "1e-320", "4.9e-324") },
					func(r *rand.Rand) string {
						return oneOf(r, nearNumber(r, "0", "1.0000001e-300", "-1e-320", "1", "1e-300"), wrongType(r, "number"))
					}},
				{"desc", func(r *rand.Rand) string { return `""` }, func(r *rand.Rand) string { return oneOf(r, `"a"`, `"\n"`, genString(r, 1, 3)) }},
			}},

		{"strict", `{"type":"object","additionalProperties":false,"required":["k","when"],
			"properties":{
				"k":{"type":["integer","null"],"minimum":0},
				"when":{"type":["string","integer"],"format":"date-time",
					"enum":["2024-02-29T12:00:00Z","2024-02-29T12:00:00.000Z",1709208000000,"not a date"]},
				"name":{"type":["string","null"],"minLength":1,"maxLength":3,"pattern":"^\\p{L}+$"},
				"amt":{"type":"number","multipleOf":0.1,"maximum":1000,"minimum":-1000},
				"on":{"type":"boolean","enum":[true]},
				"t2":{"type":["string","null"],"format":"date-time"}}}`,
			[]refProp{
				{"k", func(r *rand.Rand) string { return oneOf(r, "null", genNumber(r, "0", "1", "1000000")) }, func(r *rand.Rand) string {
					return oneOf(r, nearNumber(r, "-1", "0.5", "-0.000001"), wrongType(r, "number"))
				}},
				{"when", func(r *rand.Rand) string {
					return oneOf(r, `"2024-02-29T12:00:00Z"`, `"2024-02-29T12:00:00.000Z"`, genNumber(r, "1709208000000"))
				}, func(r *rand.Rand) string {
					return oneOf(r, `"2024-02-29t12:00:00Z"`, `"2024-02-29T12:00:00+00:00"`, `"not a date"`,
						nearNumber(r, "1709208000001", "1709207999999"), genTimestampOrMillis(r), badTimestamp(r))
				}},
				{"name", func(r *rand.Rand) string { return oneOf(r, "null", `"é"`, `"abc"`, `"Ωμ"`, genIdent(r, 1, 3)) },
					func(r *rand.Rand) string {
						return oneOf(r, `""`, `"abcd"`, `"a1"`, `"😀"`, `"a b"`, genString(r, 0, 4), wrongType(r, "string"))
					}},
				{"amt", func(r *rand.Rand) string { return genNumber(r, "0", "0.1", "0.3", "19.9", "-1000", "1000", "999.9") },
					func(r *rand.Rand) string {
						return oneOf(r, nearNumber(r, "0.05", "1000.1", "-1000.1", "0.31", "1e4"), wrongType(r, "number"))
					}},
				{"on", func(r *rand.Rand) string { return "true" }, func(r *rand.Rand) string { return oneOf(r, "false", wrongType(r, "boolean")) }},
				{"t2", func(r *rand.Rand) string { return oneOf(r, "null", genTimestamp(r)) }, func(r *rand.Rand) string {
					return oneOf(r, badTimestamp(r), genMillis(r))
				}},
			}},

		// Numbers that float64 rounds onto a bound or an enum value: only
		// the exact decimal decides.
		{"precision", `{"type":"object","required":["i"],"properties":{
				"i":{"type":"integer","minimum":-18014398509481985,"maximum":18014398509481985},
				"f":{"type":"number","minimum":0,"exclusiveMaximum":0.1},
				"g":{"type":"number","exclusiveMinimum":-0.1,"maximum":0},
				"e":{"type":["number","null"],"enum":[0.1,1e-300,18014398509481985,null]},
				"m":{"type":"number","multipleOf":0.001}}}`,
			[]refProp{
				// float64 rounds ±18014398509481986 to the bounds.
				{"i", func(r *rand.Rand) string {
					return genNumber(r, "18014398509481985", "18014398509481984", "-18014398509481984", "0")
				},
					func(r *rand.Rand) string {
						return tieNumber(r, "18014398509481985", "-18014398509481985", "18014398509481986")
					}},
				{"f", func(r *rand.Rand) string { return genNumber(r, "0", "0.05", "0.09999999999999999") },
					func(r *rand.Rand) string { return tieNumber(r, "0", "0.1") }},
				{"g", func(r *rand.Rand) string { return genNumber(r, "0", "-0.05", "-0.09999999999999999") },
					func(r *rand.Rand) string { return tieNumber(r, "0", "-0.1") }},
				{"e", func(r *rand.Rand) string { return oneOf(r, "null", genNumber(r, "0.1", "1e-300", "18014398509481985")) },
					func(r *rand.Rand) string { return tieNumber(r, "0.1", "1e-300", "18014398509481985") }},
				{"m", func(r *rand.Rand) string { return genNumber(r, "0", "0.003", "1.5", "-2.001", "1e-3") },
					func(r *rand.Rand) string { return tieNumber(r, "0.003", "1", "0.0005") }},
			}},
	}
}

// tieNumber returns one of the anchors plus a difference float64 may not
// see.
func tieNumber(r *rand.Rand, anchors ...string) string {
	x, _ := new(big.Rat).SetString(anchors[r.IntN(len(anchors))])
	delta, _ := new(big.Rat).SetString(oneOf(r, "1e-20", "-1e-20", "1e-330", "-1e-330", "1", "-1", "0"))
	return formatDecimal(r, x.Add(x, delta))
}

func TestReferenceAgreement(t *testing.T) {
	seed := *referenceSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	const eventsPerSchema = 4000
	failures := 0
	for _, rc := range refCases() {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		s := mustCompile(t, rc.schema)
		ref := compileReference(t, []byte(rc.schema))
		d := NewDecoder(s, nil)
		accepted := 0
		for i := range eventsPerSchema {
			event := genEvent(r, s, rc.props)
			res, err := d.Decode(nil, []byte(event))
			refErr := referenceVerdict(ref, event)
			if (err == nil) != (refErr == nil) {
				failures++
				t.Errorf("schema %s, event %d: we say %v, the reference says %v, for\n%s\n"+
					"(reproduce with: go test -run TestReferenceAgreement -reference.seed=%d ./internal/schema/)",
					rc.name, i, verdict(err), verdict(refErr), event, seed)
			} else if err == nil {
				accepted++
				if msg := compareStored(s, res.Row, event); msg != "" {
					failures++
					t.Errorf("schema %s, event %d: %s, for\n%s\n(seed %d)", rc.name, i, msg, event, seed)
				}
			}
			if failures >= 10 {
				t.Fatalf("too many failures (seed %d)", seed)
			}
		}
		// The generator is only useful if it exercises both verdicts.
		if accepted < eventsPerSchema/5 || accepted > eventsPerSchema*4/5 {
			t.Errorf("schema %s: %d of %d events valid; the generator is off balance (seed %d)", rc.name, accepted, eventsPerSchema, seed)
		}
		t.Logf("schema %s: %d of %d events valid", rc.name, accepted, eventsPerSchema)
	}
}

func verdict(err error) string {
	if err == nil {
		return "valid"
	}
	return "invalid (" + err.Error() + ")"
}

func referenceVerdict(sch *jsonschema.Schema, event string) error {
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(event))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// compareStored checks the row we stored against encoding/json's reading of
// the event.
func compareStored(s *Schema, row []byte, event string) string {
	vals, err := DecodeRow(s.Columns, row, nil)
	if err != nil {
		return "DecodeRow: " + err.Error()
	}
	dec := json.NewDecoder(strings.NewReader(event))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return "encoding/json: " + err.Error()
	}
	for i, c := range s.Columns {
		got := vals[i]
		want, ok := obj[c.Name]
		if !ok || want == nil {
			if !got.Null {
				return fmt.Sprintf("column %s: stored %+v, want null", c.Name, got)
			}
			continue
		}
		if got.Null {
			return fmt.Sprintf("column %s: stored null, want %v", c.Name, want)
		}
		switch c.Type {
		case String:
			if string(got.Bytes) != want.(string) {
				return fmt.Sprintf("column %s: stored %q, want %q", c.Name, got.Bytes, want)
			}
		case Int64:
			x, _ := new(big.Rat).SetString(want.(json.Number).String())
			if !x.IsInt() || !x.Num().IsInt64() || x.Num().Int64() != got.Int {
				return fmt.Sprintf("column %s: stored %d, want %v", c.Name, got.Int, want)
			}
		case Float64:
			f, _ := strconv.ParseFloat(want.(json.Number).String(), 64)
			if math.Float64bits(f) != math.Float64bits(got.Float) {
				return fmt.Sprintf("column %s: stored %v, want %v (%v)", c.Name, got.Float, f, want)
			}
		case Bool:
			if (got.Int != 0) != want.(bool) {
				return fmt.Sprintf("column %s: stored %d, want %v", c.Name, got.Int, want)
			}
		case Timestamp:
			var us int64
			switch w := want.(type) {
			case json.Number:
				x, _ := new(big.Rat).SetString(w.String())
				us = x.Num().Int64() * 1000
			case string:
				tt, err := time.Parse(time.RFC3339Nano, strings.ToUpper(w))
				if err != nil {
					return fmt.Sprintf("column %s: time.Parse(%q): %v", c.Name, w, err)
				}
				us = tt.UnixMicro()
			}
			if got.Int != us {
				return fmt.Sprintf("column %s: stored %d µs, want %d (%v)", c.Name, got.Int, us, want)
			}
		}
	}
	return ""
}

// genEvent builds an event from props: most properties get good values,
// a few (none in about half of the events) bad ones; some are left out,
// some events carry undeclared or repeated properties, a few are not
// objects at all.
func genEvent(r *rand.Rand, s *Schema, props []refProp) string {
	if r.IntN(100) == 0 {
		return oneOf(r, `[]`, `"x"`, `null`, `7`, `[{}]`)
	}
	nbad := 0
	switch x := r.IntN(100); {
	case x < 40:
	case x < 80:
		nbad = 1
	default:
		nbad = 2 + r.IntN(3)
	}
	bad := map[int]bool{}
	for range nbad {
		bad[r.IntN(len(props))] = true
	}
	var kvs []string
	for i, p := range props {
		switch {
		case bad[i] && r.IntN(6) == 0:
			// Left out: a miss only if required.
		case bad[i] && r.IntN(6) == 0:
			kvs = append(kvs, strconv.Quote(p.name)+":null")
		case bad[i]:
			kvs = append(kvs, strconv.Quote(p.name)+":"+p.bad(r))
		case !s.Columns[s.ColumnIndex(p.name)].Required && r.IntN(4) == 0:
			// Optional properties are often absent.
		default:
			kvs = append(kvs, strconv.Quote(p.name)+":"+p.good(r))
		}
	}
	if r.IntN(10) == 0 {
		name := oneOf(r, `"extra"`, `"Status"`, `"é"`, `""`, `"\u0075ser_id"`, `"ts "`)
		kvs = append(kvs, name+":"+oneOf(r, `1`, `"x"`, `null`, `{"a":[1,{"b":null}]}`, `[]`, `true`))
	}
	if r.IntN(50) == 0 {
		// Not JSON, though fastjson takes it.
		p := props[r.IntN(len(props))]
		kvs = append(kvs, strconv.Quote(p.name)+":"+oneOf(r, "NaN", "-Infinity", "01", "1.", ".5", "+1", "1e", "--1", "1.2.3",
			`"\x"`, `"a`+"\t"+`b"`, `"\u12"`, "tru", "nul", "[1,]", `{"a"}`))
	}
	if r.IntN(30) == 0 && len(kvs) > 0 {
		p := props[r.IntN(len(props))]
		kvs = append(kvs, strconv.Quote(p.name)+":"+oneOf(r, p.good(r), p.bad(r)))
	}
	r.Shuffle(len(kvs), func(i, j int) { kvs[i], kvs[j] = kvs[j], kvs[i] })
	sep := oneOf(r, ",", ", ", ",\n\t", " ,")
	return oneOf(r, "", " ", "\n") + "{" + strings.Join(kvs, sep) + "}" + oneOf(r, "", "\n", " \r\n")
}

func oneOf(r *rand.Rand, choices ...string) string { return choices[r.IntN(len(choices))] }

// wrongType returns a JSON value that is not of the given type.
func wrongType(r *rand.Rand, typ string) string {
	var choices []string
	for _, c := range []struct{ typ, v string }{
		{"string", `"5"`}, {"string", `"true"`}, {"string", `""`}, {"number", `5`}, {"number", `-1.5e3`},
		{"boolean", `true`}, {"boolean", `false`}, {"array", `[]`}, {"array", `[1]`}, {"object", `{}`},
		{"object", `{"a":"b"}`},
	} {
		if c.typ != typ {
			choices = append(choices, c.v)
		}
	}
	return oneOf(r, choices...)
}

// genString returns a JSON string of between lo and hi characters, mixing
// ASCII, multi-byte characters and escapes, lone surrogates included.
func genString(r *rand.Rand, lo, hi int) string {
	n := lo + r.IntN(hi-lo+1)
	var b strings.Builder
	b.WriteByte('"')
	for range n {
		switch r.IntN(40) {
		case 0:
			b.WriteString("é")
		case 1:
			b.WriteString("😀")
		case 2:
			b.WriteString(`\u00e9`)
		case 3:
			b.WriteString(`\ud83d\ude00`)
		case 4:
			b.WriteString(oneOf(r, `\ud83d`, `\ude00`)) // one U+FFFD each, unless they pair up
		case 5:
			b.WriteString(oneOf(r, `\n`, `\"`, `\\`, `\/`, `\t`, `\u0000`))
		case 6:
			b.WriteString("世")
		case 7:
			b.WriteByte(byte('A' + r.IntN(26)))
		case 8:
			b.WriteByte(byte('0' + r.IntN(10)))
		default:
			b.WriteByte(byte('a' + r.IntN(26)))
		}
	}
	b.WriteByte('"')
	return b.String()
}

// genIdent returns a JSON string of lo to hi characters from [a-zé😀-].
func genIdent(r *rand.Rand, lo, hi int) string {
	n := lo + r.IntN(hi-lo+1)
	var b strings.Builder
	b.WriteByte('"')
	for range n {
		b.WriteString(oneOf(r, "a", "b", "z", "é", "😀", "-", `\u00e9`, `\ud83d\ude00`, "q"))
	}
	b.WriteByte('"')
	return b.String()
}

func genUpper(r *rand.Rand, n int) string {
	var b strings.Builder
	b.WriteByte('"')
	for range n {
		b.WriteByte(byte('A' + r.IntN(26)))
	}
	b.WriteByte('"')
	return b.String()
}

// genNumber returns one of the anchors, written in one of the ways JSON
// allows.
func genNumber(r *rand.Rand, anchors ...string) string {
	x, ok := new(big.Rat).SetString(anchors[r.IntN(len(anchors))])
	if !ok {
		panic("bad anchor")
	}
	return formatDecimal(r, x)
}

// nearNumber returns a number next to one of the anchors, or one of them.
func nearNumber(r *rand.Rand, anchors ...string) string {
	x, ok := new(big.Rat).SetString(anchors[r.IntN(len(anchors))])
	if !ok {
		panic("bad anchor")
	}
	if r.IntN(5) != 0 {
		delta, _ := new(big.Rat).SetString(oneOf(r, "1", "-1", "0.5", "-0.01", "0.001", "1e-20", "-1e-20", "1e-330", "-1e-330", "10"))
		x.Add(x, delta)
	}
	return formatDecimal(r, x)
}

// formatDecimal writes x, a decimal, in one of several equivalent JSON forms.
func formatDecimal(r *rand.Rand, x *big.Rat) string {
	s := x.FloatString(340)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	frac = strings.TrimRight(frac, "0")
	sign := ""
	if neg {
		sign = "-"
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" { // zero
		return oneOf(r, "0", "-0", "0.0", "0e5", "-0.000E-2")
	}
	switch r.IntN(5) {
	case 0: // trailing zeros
		if frac == "" {
			return sign + intPart + "." + strings.Repeat("0", 1+r.IntN(3))
		}
		return sign + intPart + "." + frac + strings.Repeat("0", 1+r.IntN(3))
	case 1: // an integer mantissa
		if exp := len(frac); exp > 0 {
			return sign + digits + oneOf(r, "e-", "E-") + strconv.Itoa(exp)
		}
		return sign + digits + oneOf(r, "e", "E", "e+", "E+") + strconv.Itoa(len(intPart)-len(digits))
	case 2: // scientific
		mag := len(intPart) - 1 // the power of ten of the first digit
		if intPart == "0" {
			mag = -1 - (len(frac) - len(strings.TrimLeft(frac, "0")))
		}
		d := strings.TrimRight(digits, "0")
		m := d[:1]
		if len(d) > 1 {
			m += "." + d[1:]
		}
		return sign + m + oneOf(r, "e", "E") + strconv.Itoa(mag)
	}
	if frac == "" {
		return sign + intPart
	}
	return sign + intPart + "." + frac
}

// genTimestamp returns a valid RFC 3339 date-time string in years 0001–9999.
func genTimestamp(r *rand.Rand) string {
	return `"` + timestampText(r, nil) + `"`
}

func timestampText(r *rand.Rand, mutate func(f *tsFields)) string {
	f := tsFields{year: 1 + r.IntN(9999), month: 1 + r.IntN(12), hour: r.IntN(24), minute: r.IntN(60), second: r.IntN(60)}
	if r.IntN(4) == 0 {
		f.year = 1970 + r.IntN(70)
	}
	f.day = 1 + r.IntN(daysIn(f.month, f.year))
	if r.IntN(20) == 0 {
		f.year, f.month, f.day = oneOfInt(r, 2024, 2000, 1600, 4), 2, 29
	}
	if r.IntN(2) == 0 {
		f.frac = "." + strconv.Itoa(r.IntN(10))[:1] + strings.Repeat("0123456789"[r.IntN(10):][:1], r.IntN(11))
	}
	f.t = oneOf(r, "T", "T", "T", "t")
	switch r.IntN(4) {
	case 0:
		f.zone = "Z"
	case 1:
		f.zone = "z"
	default:
		f.zone = fmt.Sprintf("%s%02d:%02d", oneOf(r, "+", "-"), r.IntN(24), r.IntN(60))
	}
	if mutate != nil {
		mutate(&f)
	}
	return f.String()
}

type tsFields struct {
	year, month, day, hour, minute, second int
	t, frac, zone                          string
	width                                  [6]int // field widths, if not the usual
}

func (f tsFields) String() string {
	w := [6]int{4, 2, 2, 2, 2, 2}
	for i, x := range f.width {
		if x != 0 {
			w[i] = x
		}
	}
	return fmt.Sprintf("%0*d-%0*d-%0*d%s%0*d:%0*d:%0*d%s%s", w[0], f.year, w[1], f.month, w[2], f.day, f.t,
		w[3], f.hour, w[4], f.minute, w[5], f.second, f.frac, f.zone)
}

func oneOfInt(r *rand.Rand, choices ...int) int { return choices[r.IntN(len(choices))] }

// badTimestamp returns a date-time that is wrong in one way, or a value of
// another type.
func badTimestamp(r *rand.Rand) string {
	switch r.IntN(20) {
	case 0:
		return wrongType(r, "string")
	case 1:
		return oneOf(r, `"2026-11-22"`, `"16:07:00Z"`, `""`, `"2026-11-22T16:07:00.123456789"`, `"now"`)
	case 2:
		return genNumber(r, "1.5", "1700000000000.5", "-0.5")
	case 3: // cut short
		s := timestampText(r, nil)
		return `"` + s[:r.IntN(len(s))] + `"`
	case 4: // a character too many, before any fraction
		s := timestampText(r, nil)
		i := r.IntN(20)
		return `"` + s[:i] + oneOf(r, "0", "x", " ", ":", ".") + s[i:] + `"`
	case 5: // a digit that is not one
		s := []byte(timestampText(r, nil))
		for {
			if i := r.IntN(len(s)); isDigit(s[i]) {
				s[i] = oneOf(r, "x", " ", "O", "/")[0]
				return `"` + string(s) + `"`
			}
		}
	}
	return `"` + timestampText(r, func(f *tsFields) {
		switch r.IntN(12) {
		case 0:
			f.month = oneOfInt(r, 0, 13, 99)
		case 1:
			f.day = oneOfInt(r, 0, daysIn(f.month, f.year)+1, 32)
		case 2:
			f.year, f.month, f.day = oneOfInt(r, 2023, 1900, 2100, 1), 2, 29
		case 3:
			f.hour = oneOfInt(r, 24, 25, 99)
		case 4:
			f.minute = oneOfInt(r, 60, 99)
		case 5:
			f.second = oneOfInt(r, 61, 99) // 60 is a leap second: a documented deviation
		case 6:
			f.zone = oneOf(r, "", "+01", "+0100", "+24:00", "-01:60", "+1:00", "UTC", "Z+01:00", " Z")
		case 7:
			f.t = oneOf(r, " ", "", "x", "TT", "_")
		case 8:
			f.frac = oneOf(r, ".", ",5", ".5.5", ".x")
		case 9: // a field of one digit, or of three
			i := r.IntN(6)
			field := []*int{&f.year, &f.month, &f.day, &f.hour, &f.minute, &f.second}[i]
			if r.IntN(2) == 0 && i > 0 {
				*field %= 10
				f.width[i] = 1
			} else {
				*field %= 1000
				f.width[i] = oneOfInt(r, 3, 5-min(i, 1)*2)
			}
		default:
			f.year = oneOfInt(r, 10000, 12345)
		}
	}) + `"`
}

// genMillis returns epoch milliseconds within years 0001–9999.
func genMillis(r *rand.Rand) string {
	var ms int64
	switch r.IntN(4) {
	case 0:
		ms = minEpochMillis + r.Int64N(maxEpochMillis-minEpochMillis+1)
	case 1:
		ms = oneOfInt64(r, minEpochMillis, maxEpochMillis, 0, -1, 1)
	default:
		ms = 1_600_000_000_000 + r.Int64N(200_000_000_000)
	}
	return formatDecimal(r, new(big.Rat).SetInt64(ms))
}

func oneOfInt64(r *rand.Rand, choices ...int64) int64 { return choices[r.IntN(len(choices))] }

func genTimestampOrMillis(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return genMillis(r)
	}
	return genTimestamp(r)
}

// The generators produce what they promise.
func TestReferenceGenerators(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rc := refCases()[1]
	rs := mustCompile(t, rc.schema)
	notJSON := 0
	for range 2000 {
		s := genTimestamp(r)
		if _, ok := ParseRFC3339Micros([]byte(s[1 : len(s)-1])); !ok {
			t.Fatalf("genTimestamp made %s", s)
		}
		if bt := badTimestamp(r); strings.HasPrefix(bt, `"`) {
			if _, ok := ParseRFC3339Micros([]byte(bt[1 : len(bt)-1])); ok {
				t.Fatalf("badTimestamp made %s", bt)
			}
		}
		anchor := oneOf(r, "0", "-1.5", "129.95", "1e-300", "9007199254740993", "0.001")
		x, _ := new(big.Rat).SetString(anchor)
		text := formatDecimal(r, x)
		y, ok := new(big.Rat).SetString(text)
		if !ok || x.Cmp(y) != 0 || !json.Valid([]byte(text)) {
			t.Fatalf("formatDecimal(%s) = %s", anchor, text)
		}
		if js := genString(r, 0, 10); !json.Valid([]byte(js)) {
			t.Fatalf("genString made %s", js)
		}
		if ev := genEvent(r, rs, rc.props); !json.Valid([]byte(ev)) {
			notJSON++
		}
	}
	if notJSON > 2000/20 { // genEvent means 1 in 50
		t.Errorf("genEvent made %d events of 2000 that are not JSON", notJSON)
	}
}
