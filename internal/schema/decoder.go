package schema

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
	"github.com/valyala/fastjson"
)

// Violation says why a record does not satisfy its schema: the field (empty
// for the record as a whole), the JSON Schema rule that failed, and what was
// wrong. It is the reason stored with a quarantined record.
type Violation struct {
	Field  string
	Rule   string
	Detail string
}

func (v *Violation) Error() string {
	if v.Field == "" {
		return fmt.Sprintf("%s (rule %q)", v.Detail, v.Rule)
	}
	return fmt.Sprintf("field %q: %s (rule %q)", v.Field, v.Detail, v.Rule)
}

// Decoder validates JSON events against one schema and appends them to a row
// buffer. A Decoder is not safe for concurrent use; make one per goroutine.
type Decoder struct {
	s       *Schema
	p       fastjson.Parser
	slots   []*fastjson.Value
	keyCols []int
	keyMark []int // per column: index into keyCols, or -1
	keyBuf  []byte
	b       RowBuilder
	dup     *Violation // first rule failure found while visiting an object
}

// NewDecoder returns a decoder for s. keyCols are the columns whose values
// are hashed into [Decoded.KeyHash], in order.
func NewDecoder(s *Schema, keyCols []int) *Decoder {
	d := &Decoder{
		s:       s,
		slots:   make([]*fastjson.Value, len(s.Columns)),
		keyCols: keyCols,
		keyMark: make([]int, len(s.Columns)),
		b:       RowBuilder{cols: s.Columns},
	}
	for i := range d.keyMark {
		d.keyMark[i] = -1
	}
	for k, c := range keyCols {
		d.keyMark[c] = k
	}
	return d
}

// Decoded describes a record the decoder accepted.
type Decoded struct {
	Row     []byte // the buffer passed in, with the row appended
	KeyHash uint64 // hash of the key columns' values
}

// Decode parses one JSON event from raw, validates it and appends it as a
// row to dst. On a rule failure it returns a *Violation and dst unchanged.
func (d *Decoder) Decode(dst []byte, raw []byte) (Decoded, error) {
	v, err := d.p.ParseBytes(raw)
	if err != nil {
		return Decoded{Row: dst}, &Violation{Rule: "json", Detail: "invalid JSON: " + err.Error()}
	}
	return d.DecodeValue(dst, v)
}

// DecodeValue is Decode for an event already parsed, e.g. an element of a
// JSON array.
func (d *Decoder) DecodeValue(dst []byte, v *fastjson.Value) (Decoded, error) {
	if v.Type() != fastjson.TypeObject {
		return Decoded{Row: dst}, &Violation{Rule: "type", Detail: "expected a JSON object, got " + v.Type().String()}
	}
	obj, _ := v.Object()
	clear(d.slots)
	d.dup = nil
	obj.Visit(d.visit)
	if d.dup != nil {
		return Decoded{Row: dst}, d.dup
	}
	mark := len(dst)
	d.b.Begin(dst)
	d.keyBuf = d.keyBuf[:0]
	for i := range d.s.Columns {
		c := &d.s.Columns[i]
		val := d.slots[i]
		if val == nil || val.Type() == fastjson.TypeNull {
			if val == nil && c.Required {
				return Decoded{Row: dst[:mark]}, &Violation{Field: c.Name, Rule: "required", Detail: "required field is missing"}
			}
			if val != nil && !c.Nullable {
				return Decoded{Row: dst[:mark]}, &Violation{Field: c.Name, Rule: "type", Detail: fmt.Sprintf("must not be null (expected %s)", typeWord(c))}
			}
			if val != nil && c.Enum != nil && !enumHasNull(c.Enum) {
				return Decoded{Row: dst[:mark]}, &Violation{Field: c.Name, Rule: "enum", Detail: "null is not one of " + enumList(c.Enum)}
			}
			d.b.Null(i)
			if d.keyMark[i] >= 0 {
				d.keyBuf = append(d.keyBuf, 0xff)
			}
			continue
		}
		before := len(d.b.buf)
		if viol := d.encode(c, val); viol != nil {
			viol.Field = c.Name
			return Decoded{Row: dst[:mark]}, viol
		}
		if d.keyMark[i] >= 0 {
			d.keyBuf = append(d.keyBuf, d.b.buf[before:]...)
			d.keyBuf = append(d.keyBuf, 0xfe)
		}
	}
	return Decoded{Row: d.b.Bytes(), KeyHash: xxhash.Sum64(d.keyBuf)}, nil
}

func (d *Decoder) visit(key []byte, v *fastjson.Value) {
	if d.dup != nil {
		return
	}
	i, ok := d.s.index[string(key)]
	if !ok {
		if !d.s.AdditionalProperties {
			d.dup = &Violation{Field: string(key), Rule: "additionalProperties", Detail: "not declared in the schema, and the schema sets additionalProperties: false"}
		}
		return
	}
	d.slots[i] = v // a repeated key: the last one wins, as in most JSON decoders
}

func typeWord(c *Column) string {
	if c.Type == Timestamp {
		if c.AcceptEpochMillis {
			return "an RFC 3339 timestamp string or epoch milliseconds"
		}
		return "an RFC 3339 timestamp string"
	}
	return c.Type.String()
}

func (d *Decoder) encode(c *Column, v *fastjson.Value) *Violation {
	switch c.Type {
	case String:
		if v.Type() != fastjson.TypeString {
			return typeViolation(c, v)
		}
		s := v.GetStringBytes()
		if !utf8.Valid(s) {
			return &Violation{Rule: "type", Detail: "string is not valid UTF-8"}
		}
		if viol := checkString(c, s); viol != nil {
			return viol
		}
		d.b.String(s)
	case Int64:
		if v.Type() != fastjson.TypeNumber {
			return typeViolation(c, v)
		}
		x, err := v.Int64()
		if err != nil {
			f := v.GetFloat64()
			if f != math.Trunc(f) || math.IsInf(f, 0) {
				return &Violation{Rule: "type", Detail: fmt.Sprintf("expected integer, got %s", quoteValue(v))}
			}
			if f < -9.223372036854775e18 || f > 9.223372036854775e18 {
				return &Violation{Rule: "type", Detail: fmt.Sprintf("%s is outside the 64-bit integer range", quoteValue(v))}
			}
			x = int64(f)
		}
		if viol := checkNumber(c, float64(x), v); viol != nil {
			return viol
		}
		d.b.Int(x)
	case Float64:
		if v.Type() != fastjson.TypeNumber {
			return typeViolation(c, v)
		}
		f := v.GetFloat64()
		if math.IsInf(f, 0) {
			return &Violation{Rule: "type", Detail: fmt.Sprintf("%s is outside the 64-bit floating point range", quoteValue(v))}
		}
		if viol := checkNumber(c, f, v); viol != nil {
			return viol
		}
		d.b.Float(f)
	case Bool:
		switch v.Type() {
		case fastjson.TypeTrue:
			if viol := checkEnum(c, true, v); viol != nil {
				return viol
			}
			d.b.Bool(true)
		case fastjson.TypeFalse:
			if viol := checkEnum(c, false, v); viol != nil {
				return viol
			}
			d.b.Bool(false)
		default:
			return typeViolation(c, v)
		}
	case Timestamp:
		switch v.Type() {
		case fastjson.TypeString:
			s := v.GetStringBytes()
			us, ok := ParseRFC3339Micros(s)
			if !ok {
				return &Violation{Rule: "format", Detail: fmt.Sprintf("%s is not an RFC 3339 date-time (e.g. 2026-11-22T16:07:00.123Z)", quoteValue(v))}
			}
			if viol := checkEnum(c, string(s), v); viol != nil {
				return viol
			}
			d.b.Int(us)
		case fastjson.TypeNumber:
			if !c.AcceptEpochMillis {
				return typeViolation(c, v)
			}
			ms, err := v.Int64()
			if err != nil {
				f := v.GetFloat64()
				if f != math.Trunc(f) {
					return &Violation{Rule: "type", Detail: fmt.Sprintf("expected integer epoch milliseconds, got %s", quoteValue(v))}
				}
				ms = int64(f)
				if f < minEpochMillis || f > maxEpochMillis {
					ms = math.MinInt64
				}
			}
			if ms < minEpochMillis || ms > maxEpochMillis {
				return &Violation{Rule: "format", Detail: fmt.Sprintf("epoch milliseconds %s is outside years 0001–9999", quoteValue(v))}
			}
			d.b.Int(ms * 1000)
		default:
			return typeViolation(c, v)
		}
	}
	return nil
}

// Epoch milliseconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z.
const (
	minEpochMillis = -62135596800000
	maxEpochMillis = 253402300799999
)

func typeViolation(c *Column, v *fastjson.Value) *Violation {
	return &Violation{Rule: "type", Detail: fmt.Sprintf("expected %s, got %s %s", typeWord(c), v.Type(), quoteValue(v))}
}

// quoteValue renders v for an error message, shortened to stay readable.
func quoteValue(v *fastjson.Value) string {
	s := string(v.MarshalTo(nil))
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

func checkString(c *Column, s []byte) *Violation {
	if c.MinLength >= 0 || c.MaxLength >= 0 {
		n := utf8.RuneCount(s)
		if c.MinLength >= 0 && n < c.MinLength {
			return &Violation{Rule: "minLength", Detail: fmt.Sprintf("length %d is shorter than minLength %d", n, c.MinLength)}
		}
		if c.MaxLength >= 0 && n > c.MaxLength {
			return &Violation{Rule: "maxLength", Detail: fmt.Sprintf("length %d is longer than maxLength %d", n, c.MaxLength)}
		}
	}
	if c.Pattern != nil && !c.Pattern.Match(s) {
		return &Violation{Rule: "pattern", Detail: fmt.Sprintf("%s does not match pattern %q", shorten(strconv.Quote(string(s))), c.Pattern.String())}
	}
	if c.Enum != nil {
		for _, e := range c.Enum {
			if es, ok := e.(string); ok && es == string(s) {
				return nil
			}
		}
		return &Violation{Rule: "enum", Detail: fmt.Sprintf("%s is not one of %s", shorten(strconv.Quote(string(s))), enumList(c.Enum))}
	}
	return nil
}

func checkNumber(c *Column, f float64, v *fastjson.Value) *Violation {
	if c.Minimum != nil && f < *c.Minimum {
		return &Violation{Rule: "minimum", Detail: fmt.Sprintf("%s is less than the minimum %v", quoteValue(v), *c.Minimum)}
	}
	if c.Maximum != nil && f > *c.Maximum {
		return &Violation{Rule: "maximum", Detail: fmt.Sprintf("%s is greater than the maximum %v", quoteValue(v), *c.Maximum)}
	}
	if c.ExclusiveMinimum != nil && f <= *c.ExclusiveMinimum {
		return &Violation{Rule: "exclusiveMinimum", Detail: fmt.Sprintf("%s must be greater than %v", quoteValue(v), *c.ExclusiveMinimum)}
	}
	if c.ExclusiveMaximum != nil && f >= *c.ExclusiveMaximum {
		return &Violation{Rule: "exclusiveMaximum", Detail: fmt.Sprintf("%s must be less than %v", quoteValue(v), *c.ExclusiveMaximum)}
	}
	if c.MultipleOf != nil && !isMultiple(v, f, *c.MultipleOf) {
		return &Violation{Rule: "multipleOf", Detail: fmt.Sprintf("%s is not a multiple of %v", quoteValue(v), *c.MultipleOf)}
	}
	return checkEnum(c, f, v)
}

// isMultiple decides multipleOf exactly, on the decimal text of the number,
// as JSON Schema means it (0.3 is a multiple of 0.1).
func isMultiple(v *fastjson.Value, f, m float64) bool {
	if m == math.Trunc(m) && f == math.Trunc(f) && math.Abs(f) < 1<<53 && m < 1<<53 {
		return math.Mod(f, m) == 0
	}
	x, ok := new(big.Rat).SetString(string(v.MarshalTo(nil)))
	if !ok {
		return false
	}
	q := x.Quo(x, new(big.Rat).SetFloat64(m))
	return q.IsInt()
}

func checkEnum(c *Column, x any, v *fastjson.Value) *Violation {
	if c.Enum == nil {
		return nil
	}
	for _, e := range c.Enum {
		if e == x {
			return nil
		}
	}
	return &Violation{Rule: "enum", Detail: fmt.Sprintf("%s is not one of %s", quoteValue(v), enumList(c.Enum))}
}

func enumHasNull(enum []any) bool {
	for _, e := range enum {
		if e == nil {
			return true
		}
	}
	return false
}

func enumList(enum []any) string {
	out := "["
	for i, e := range enum {
		if i > 0 {
			out += ", "
		}
		if i == 8 {
			out += fmt.Sprintf("… %d more", len(enum)-8)
			break
		}
		switch x := e.(type) {
		case string:
			out += strconv.Quote(x)
		case nil:
			out += "null"
		default:
			out += fmt.Sprint(x)
		}
	}
	return out + "]"
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
