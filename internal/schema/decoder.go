package schema

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
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
	fields  []field // per column: its value in the event at hand
	next    int     // the column lookup tries first
	keyCols []int
	keyMark []int // per column: index into keyCols, or -1
	keyBuf  []byte
	keyText []byte // an unescaped property name
	b       RowBuilder
	unesc   []byte // an unescaped string value
	date    dateCache
}

// NewDecoder returns a decoder for s. keyCols are the columns whose values
// are hashed into [Decoded.KeyHash], in order.
func NewDecoder(s *Schema, keyCols []int) *Decoder {
	d := &Decoder{
		s:       s,
		fields:  make([]field, len(s.Columns)),
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
// row to dst. On a rule failure it returns a *Violation and dst unchanged;
// raw must be RFC 8259 JSON (rule "json").
func (d *Decoder) Decode(dst []byte, raw []byte) (Decoded, error) {
	if viol := d.scan(raw); viol != nil {
		return Decoded{Row: dst}, viol
	}
	mark := len(dst)
	d.b.Begin(dst)
	d.keyBuf = d.keyBuf[:0]
	for i := range d.s.Columns {
		c := &d.s.Columns[i]
		f := &d.fields[i]
		if f.kind == kAbsent || f.kind == kNull {
			if f.kind == kAbsent && c.Required {
				return Decoded{Row: dst[:mark]}, &Violation{Field: c.Name, Rule: "required", Detail: "required field is missing"}
			}
			if f.kind == kNull && !c.Nullable {
				return Decoded{Row: dst[:mark]}, &Violation{Field: c.Name, Rule: "type", Detail: fmt.Sprintf("must not be null (expected %s)", typeWord(c))}
			}
			if f.kind == kNull && c.Enum != nil && !enumHasNull(c.Enum) {
				return Decoded{Row: dst[:mark]}, &Violation{Field: c.Name, Rule: "enum", Detail: "null is not one of " + enumList(c.Enum)}
			}
			d.b.Null(i)
			if d.keyMark[i] >= 0 {
				d.keyBuf = append(d.keyBuf, 0xff)
			}
			continue
		}
		before := len(d.b.buf)
		if viol := d.encode(c, f); viol != nil {
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

// str returns the value of the string f, unescaped (as encoding/json
// decodes it: a lone surrogate escape becomes U+FFFD). The result is valid
// until the next call.
func (d *Decoder) str(f *field) []byte {
	if !f.esc {
		return f.text
	}
	d.unesc = appendUnquoted(d.unesc[:0], f.text)
	return d.unesc
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

// encode validates f, which is neither absent nor null, and appends it to
// the row.
func (d *Decoder) encode(c *Column, f *field) *Violation {
	switch c.Type {
	case String:
		if f.kind != kString {
			return typeViolation(c, f)
		}
		s := d.str(f)
		if !utf8.Valid(s) {
			return &Violation{Rule: "type", Detail: "string is not valid UTF-8"}
		}
		if viol := checkString(c, s); viol != nil {
			return viol
		}
		d.b.String(s)
	case Int64:
		if f.kind != kNumber {
			return typeViolation(c, f)
		}
		x, ok := plainInt(f.text)
		if !ok {
			// Not a short integer literal: 1.0, 1e2, 1.5, or a long one.
			var isInt, fits bool
			x, isInt, fits = jsonInteger(f.text)
			if !isInt {
				return &Violation{Rule: "type", Detail: fmt.Sprintf("expected integer, got %s", quoteValue(f))}
			}
			if !fits {
				return &Violation{Rule: "type", Detail: fmt.Sprintf("%s is outside the 64-bit integer range", quoteValue(f))}
			}
		}
		if viol := checkNumber(c, float64(x), f); viol != nil {
			return viol
		}
		d.b.Int(x)
	case Float64:
		if f.kind != kNumber {
			return typeViolation(c, f)
		}
		x, ok := parseShortDecimal(f.text)
		var err error
		if !ok {
			x, err = strconv.ParseFloat(string(f.text), 64) // correctly rounded
		}
		if err != nil && math.IsInf(x, 0) {
			return &Violation{Rule: "type", Detail: fmt.Sprintf("%s is outside the 64-bit floating point range", quoteValue(f))}
		}
		if viol := checkNumber(c, x, f); viol != nil {
			return viol
		}
		d.b.Float(x)
	case Bool:
		if f.kind != kTrue && f.kind != kFalse {
			return typeViolation(c, f)
		}
		if viol := checkEnum(c, f.kind == kTrue, f); viol != nil {
			return viol
		}
		d.b.Bool(f.kind == kTrue)
	case Timestamp:
		switch f.kind {
		case kString:
			s := d.str(f)
			us, ok := d.date.parse(s)
			if !ok {
				return &Violation{Rule: "format", Detail: fmt.Sprintf("%s is not an RFC 3339 date-time (e.g. 2026-11-22T16:07:00.123Z)", quoteValue(f))}
			}
			if viol := checkEnum(c, string(s), f); viol != nil {
				return viol
			}
			d.b.Int(us)
		case kNumber:
			if !c.AcceptEpochMillis {
				return typeViolation(c, f)
			}
			ms, ok := plainInt(f.text)
			if !ok {
				var isInt, fits bool
				ms, isInt, fits = jsonInteger(f.text)
				if !isInt {
					return &Violation{Rule: "type", Detail: fmt.Sprintf("expected integer epoch milliseconds, got %s", quoteValue(f))}
				}
				if !fits {
					ms = math.MinInt64
				}
			}
			if ms < minEpochMillis || ms > maxEpochMillis {
				return &Violation{Rule: "format", Detail: fmt.Sprintf("epoch milliseconds %s is outside years 0001–9999", quoteValue(f))}
			}
			if viol := checkEnumNumber(c, float64(ms), f); viol != nil {
				return viol
			}
			d.b.Int(ms * 1000)
		default:
			return typeViolation(c, f)
		}
	}
	return nil
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseShortDecimal converts a JSON number -?[0-9]+(\.[0-9]+)? of at most 15
// digits: its digits as an integer and the power of ten are both exact
// float64s, so one division is correctly rounded (Clinger's fast path),
// as strconv.ParseFloat's result is. Others report false.
func parseShortDecimal(text []byte) (float64, bool) {
	neg := len(text) > 0 && text[0] == '-'
	if neg {
		text = text[1:]
	}
	if len(text) == 0 || len(text) > 16 {
		return 0, false
	}
	var m uint64
	frac := -1 // digits after the point, once it is seen
	for _, c := range text {
		switch {
		case isDigit(c):
			m = m*10 + uint64(c-'0')
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
	}
	if frac == 0 || frac < 0 && len(text) > 15 {
		return 0, false // "1." is not JSON; 16 digits may not be exact
	}
	x := float64(m)
	if frac > 0 {
		x /= pow10[frac]
	}
	if neg {
		x = -x
	}
	return x, true
}

// plainInt parses a JSON number that is -?[0-9]{1,18}: every such number
// fits in an int64. Others report false.
func plainInt(text []byte) (int64, bool) {
	neg := len(text) > 0 && text[0] == '-'
	digits := text
	if neg {
		digits = text[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return 0, false
	}
	var x int64
	for _, c := range digits {
		if !isDigit(c) {
			return 0, false
		}
		x = x*10 + int64(c-'0')
	}
	if neg {
		x = -x
	}
	return x, true
}

// Epoch milliseconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z.
const (
	minEpochMillis = -62135596800000
	maxEpochMillis = 253402300799999
)

func typeViolation(c *Column, f *field) *Violation {
	return &Violation{Rule: "type", Detail: fmt.Sprintf("expected %s, got %s %s", typeWord(c), f.kind, quoteValue(f))}
}

// quoteValue renders f as written for an error message, shortened to stay
// readable.
func quoteValue(f *field) string {
	var s string
	switch f.kind {
	case kString:
		s = `"` + string(f.text) + `"`
	case kTrue, kFalse, kNull:
		s = f.kind.String()
	default:
		s = string(f.text)
	}
	return shorten(s)
}

func checkString(c *Column, s []byte) *Violation {
	// A string of n bytes has between ceil(n/4) and n runes; count them only
	// when that range leaves the verdict open.
	if c.MinLength >= 0 && (len(s)+3)/4 < c.MinLength || c.MaxLength >= 0 && len(s) > c.MaxLength {
		n := utf8.RuneCount(s)
		if c.MinLength >= 0 && n < c.MinLength {
			return &Violation{Rule: "minLength", Detail: fmt.Sprintf("length %d is shorter than minLength %d", n, c.MinLength)}
		}
		if c.MaxLength >= 0 && n > c.MaxLength {
			return &Violation{Rule: "maxLength", Detail: fmt.Sprintf("length %d is longer than maxLength %d", n, c.MaxLength)}
		}
	}
	if c.Pattern != nil && !c.matchPattern(s) {
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

// checkNumber checks the number v, whose float64 is f,
// against c's constraints. Comparisons are exact: f decides them unless it
// equals the bound, and then the decimal text does.
func checkNumber(c *Column, f float64, v *field) *Violation {
	text := v.text
	if b := c.Minimum; b != nil && (f < *b || f == *b && cmpExact(text, f, c.exact.minimum.orFloat(*b)) < 0) {
		return &Violation{Rule: "minimum", Detail: fmt.Sprintf("%s is less than the minimum %v", quoteValue(v), *b)}
	}
	if b := c.Maximum; b != nil && (f > *b || f == *b && cmpExact(text, f, c.exact.maximum.orFloat(*b)) > 0) {
		return &Violation{Rule: "maximum", Detail: fmt.Sprintf("%s is greater than the maximum %v", quoteValue(v), *b)}
	}
	if b := c.ExclusiveMinimum; b != nil && (f < *b || f == *b && cmpExact(text, f, c.exact.exclusiveMinimum.orFloat(*b)) <= 0) {
		return &Violation{Rule: "exclusiveMinimum", Detail: fmt.Sprintf("%s must be greater than %v", quoteValue(v), *b)}
	}
	if b := c.ExclusiveMaximum; b != nil && (f > *b || f == *b && cmpExact(text, f, c.exact.exclusiveMaximum.orFloat(*b)) >= 0) {
		return &Violation{Rule: "exclusiveMaximum", Detail: fmt.Sprintf("%s must be less than %v", quoteValue(v), *b)}
	}
	if m := c.MultipleOf; m != nil && !isMultiple(text, f, *m, c.exact.multipleOf.orFloat(*m)) {
		return &Violation{Rule: "multipleOf", Detail: fmt.Sprintf("%s is not a multiple of %v", quoteValue(v), *m)}
	}
	return checkEnumNumber(c, f, v)
}

// cmpExact compares the JSON number text with b exactly; f, the float64 of
// text, equals b's.
func cmpExact(text []byte, f float64, b exactNum) int {
	if b.short && shortDecimal(text) {
		return 0
	}
	if e := exponent(text); (e > 1000 || e < -1000) && f == 0 && b.rat.Sign() == 0 {
		// Underflow, against 0; see isMultiple.
		switch {
		case mantissaIsZero(text):
			return 0
		case text[0] == '-':
			return -1
		}
		return 1
	}
	x, ok := new(big.Rat).SetString(string(text))
	if !ok {
		return 0
	}
	return x.Cmp(b.rat)
}

// shortDecimal reports whether the JSON number text is 0, or has at most 15
// significant digits and a magnitude between 1e-290 and 1e290. Distinct
// such numbers have distinct float64s (DBL_DIG is 15), so equal float64s
// mean equal numbers.
func shortDecimal(text []byte) bool {
	first, last, n, intLen, e := -1, -1, 0, -1, 0
	for i, c := range text {
		if c == '.' {
			intLen = n
		} else if c == 'e' || c == 'E' {
			e = exponent(text[i:])
			break
		} else if isDigit(c) {
			if c != '0' {
				if first < 0 {
					first = n
				}
				last = n
			}
			n++
		}
	}
	if first < 0 {
		return true
	}
	if intLen < 0 {
		intLen = n
	}
	mag := intLen - first - 1 + e // the power of ten of the first significant digit
	return last-first < 15 && -290 <= mag && mag <= 290
}

// isMultiple decides multipleOf exactly, on the decimal text of the number
// and of the schema's multipleOf, as JSON Schema means it: 0.3 is a multiple
// of 0.1, and 19.99 of 0.01, though neither is in float64 arithmetic.
func isMultiple(text []byte, f, m float64, mx exactNum) bool {
	if m == math.Trunc(m) && m < 1<<53 && math.Abs(f) < 1<<53 && isPlainInteger(text) {
		return math.Mod(f, m) == 0 // f and m are exact
	}
	if e := exponent(text); (e > 1000 || e < -1000) && f == 0 {
		// Underflow. A huge exponent would make big.Rat build a huge
		// power of ten; decide without it: 0 is a multiple of everything,
		// and a non-zero number this close to 0 is smaller than m.
		return mantissaIsZero(text)
	}
	x, ok := new(big.Rat).SetString(string(text))
	if !ok {
		return false
	}
	return x.Quo(x, mx.rat).IsInt()
}

// isPlainInteger reports whether the JSON number text is -?[0-9]+.
func isPlainInteger(text []byte) bool {
	if len(text) > 0 && text[0] == '-' {
		text = text[1:]
	}
	for _, c := range text {
		if !isDigit(c) {
			return false
		}
	}
	return len(text) > 0
}

// exponent returns the exponent of the JSON number text, saturated to
// ±1<<30.
func exponent(text []byte) int {
	i := bytes.IndexAny(text, "eE")
	if i < 0 {
		return 0
	}
	text = text[i+1:]
	neg := false
	if len(text) > 0 && (text[0] == '+' || text[0] == '-') {
		neg = text[0] == '-'
		text = text[1:]
	}
	e := 0
	for _, c := range text {
		if !isDigit(c) {
			break
		}
		if e < 1<<30 {
			e = e*10 + int(c-'0')
		}
	}
	if e > 1<<30 {
		e = 1 << 30
	}
	if neg {
		return -e
	}
	return e
}

// mantissaIsZero reports whether the digits of the JSON number text before
// its exponent are all zero.
func mantissaIsZero(text []byte) bool {
	for _, c := range text {
		switch {
		case c == 'e' || c == 'E':
			return true
		case '1' <= c && c <= '9':
			return false
		}
	}
	return true
}

// jsonInteger reports whether the JSON number text is mathematically an
// integer (1.0 and 1e2 are, 1.0000000000000001 is not) and, if it is and it
// fits in an int64, its exact value.
func jsonInteger(text []byte) (x int64, isInt, fits bool) {
	neg := len(text) > 0 && text[0] == '-'
	if neg {
		text = text[1:]
	}
	n := 0
	for n < len(text) && isDigit(text[n]) {
		n++
	}
	intPart, rest := text[:n], text[n:]
	var frac []byte
	if len(rest) > 0 && rest[0] == '.' {
		n = 1
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
		frac, rest = rest[1:n], rest[n:]
	}
	e := 0
	if len(rest) > 0 && (rest[0] == 'e' || rest[0] == 'E') {
		e = exponent(rest)
		rest = rest[1:]
		if len(rest) > 0 && (rest[0] == '+' || rest[0] == '-') {
			rest = rest[1:]
		}
		if len(rest) == 0 {
			return 0, false, false
		}
		for _, c := range rest {
			if !isDigit(c) {
				return 0, false, false
			}
		}
		rest = nil
	}
	if len(intPart) == 0 || len(rest) != 0 {
		return 0, false, false
	}
	// The digits are intPart then frac; the decimal point falls after the
	// first point of them.
	nd := len(intPart) + len(frac)
	digit := func(k int) byte {
		if k < len(intPart) {
			return intPart[k] - '0'
		}
		if k < nd {
			return frac[k-len(intPart)] - '0'
		}
		return 0
	}
	point := len(intPart) + e
	for k := max(point, 0); k < nd; k++ {
		if digit(k) != 0 {
			return 0, false, false
		}
	}
	var u uint64
	for k := 0; k < point; k++ {
		if k >= nd && u == 0 {
			break // only zeros left
		}
		dk := uint64(digit(k))
		if u > (math.MaxUint64-dk)/10 {
			return 0, true, false
		}
		u = u*10 + dk
	}
	switch {
	case neg && u <= 1<<63:
		return int64(-u), true, true // -u wraps to the two's complement
	case !neg && u <= math.MaxInt64:
		return int64(u), true, true
	}
	return 0, true, false
}

func checkEnum(c *Column, x any, v *field) *Violation {
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

// checkEnumNumber is checkEnum for the number v, whose float64 is f; see
// checkNumber.
func checkEnumNumber(c *Column, f float64, v *field) *Violation {
	if c.Enum == nil {
		return nil
	}
	text := v.text
	for i, e := range c.Enum {
		if ef, ok := e.(float64); ok && ef == f {
			var x exactNum
			if i < len(c.exact.enum) {
				x = c.exact.enum[i]
			}
			if cmpExact(text, f, x.orFloat(ef)) == 0 {
				return nil
			}
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
