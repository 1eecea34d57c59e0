package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Type is the storage type of a column.
type Type uint8

// Column types. Timestamps are microseconds since the Unix epoch, UTC.
const (
	String Type = iota + 1
	Int64
	Float64
	Bool
	Timestamp
)

func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Int64:
		return "integer"
	case Float64:
		return "number"
	case Bool:
		return "boolean"
	case Timestamp:
		return "timestamp"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Column is one top-level property of a stream's schema.
type Column struct {
	Name     string
	Type     Type
	Required bool // the property must be present
	Nullable bool // JSON null is a valid value

	// Timestamp columns only: epoch milliseconds are accepted as well as RFC 3339.
	AcceptEpochMillis bool

	// Constraints; nil or negative means "not set".
	//
	// Enum holds the values that enum and const allow (both must hold when
	// both are given): strings, float64s, bools and nil for null, as in the
	// schema. A non-nil empty Enum allows no value.
	Enum             []any
	Minimum          *float64
	Maximum          *float64
	ExclusiveMinimum *float64
	ExclusiveMaximum *float64
	MultipleOf       *float64
	MinLength        int
	MaxLength        int
	Pattern          *regexp.Regexp
	simple           simplePattern // Pattern without the regexp engine, when it has a simple form

	// The numbers above exactly as the schema writes them, for the cases
	// float64 cannot decide; zero when the Column was not made by Compile.
	exact struct {
		minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf exactNum
		enum                                                             []exactNum // parallel to Enum
	}
}

// exactNum is a number of the schema exactly as written.
type exactNum struct {
	rat   *big.Rat
	short bool // see shortDecimal
}

func newExactNum(text string) exactNum {
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return exactNum{}
	}
	return exactNum{rat: r, short: shortDecimal([]byte(text))}
}

// orFloat returns x, or f as an exactNum if x is not set.
func (x exactNum) orFloat(f float64) exactNum {
	if x.rat != nil {
		return x
	}
	return newExactNum(strconv.FormatFloat(f, 'g', -1, 64))
}

// Schema is a compiled stream schema: an ordered list of columns.
type Schema struct {
	Columns []Column
	// AdditionalProperties reports whether properties not declared in the
	// schema are allowed. They are accepted and not stored.
	AdditionalProperties bool
	// Source is the JSON Schema document the schema was compiled from.
	Source []byte

	index map[string]int
}

// FromColumns makes a schema of derived columns (a view's output), which
// has no JSON Schema source and is never used to validate input.
func FromColumns(cols []Column) *Schema {
	s := &Schema{Columns: cols, index: make(map[string]int, len(cols))}
	for i, c := range cols {
		s.index[c.Name] = i
	}
	return s
}

// Names lists the column names in order.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		out[i] = c.Name
	}
	return out
}

// ColumnIndex returns the position of the named column, or -1.
func (s *Schema) ColumnIndex(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	return -1
}

// Equal reports whether two schemas store the same columns with the same rules.
func (s *Schema) Equal(o *Schema) bool {
	return bytes.Equal(canonical(s.Source), canonical(o.Source))
}

func canonical(src []byte) []byte {
	var v any
	if json.Unmarshal(src, &v) != nil {
		return src
	}
	out, _ := json.Marshal(v) // map keys are sorted by encoding/json
	return out
}

// Error is a schema compilation error; Pointer is the JSON pointer of the
// offending keyword.
type Error struct {
	Pointer string
	Msg     string
}

func (e *Error) Error() string {
	if e.Pointer == "" {
		return e.Msg
	}
	return fmt.Sprintf("at %s: %s", e.Pointer, e.Msg)
}

// ignoredKeywords carry no validation rule.
var ignoredKeywords = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "title": true, "description": true,
	"examples": true, "default": true, "deprecated": true, "readOnly": true, "writeOnly": true,
	"x-weir-pii": true,
}

// Compile parses a JSON Schema document into a Schema. The document must
// describe an object with scalar properties; see the package documentation
// for the supported keywords.
func Compile(src []byte) (*Schema, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, &Error{Msg: fmt.Sprintf("not a JSON object: %v", err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Msg: "not a JSON object: data after the top-level value"}
	}
	s := &Schema{AdditionalProperties: true, Source: append([]byte(nil), src...), index: map[string]int{}}
	if t, ok := root["type"]; !ok || t != "object" {
		return nil, &Error{Pointer: "/type", Msg: `the stream schema must have "type": "object"`}
	}
	required := map[string]bool{}
	for key, val := range root {
		switch key {
		case "type", "properties":
		case "required":
			list, ok := val.([]any)
			if !ok {
				return nil, &Error{Pointer: "/required", Msg: "must be an array of property names"}
			}
			for _, r := range list {
				name, ok := r.(string)
				if !ok {
					return nil, &Error{Pointer: "/required", Msg: "must be an array of property names"}
				}
				required[name] = true
			}
		case "additionalProperties":
			b, ok := val.(bool)
			if !ok {
				return nil, &Error{Pointer: "/additionalProperties", Msg: "only true or false is supported"}
			}
			s.AdditionalProperties = b
		default:
			if !ignoredKeywords[key] {
				return nil, unsupported("/"+key, key)
			}
		}
	}
	props, ok := root["properties"].(map[string]any)
	if !ok || len(props) == 0 {
		return nil, &Error{Pointer: "/properties", Msg: "the stream schema must declare its properties"}
	}
	// Column order: the order of the properties in the document, which is
	// what a user reads; encoding/json loses it, so recover it from the source.
	names := propertyOrder(src, props)
	for _, name := range names {
		ptr := "/properties/" + escapePointer(name)
		spec, ok := props[name].(map[string]any)
		if !ok {
			return nil, &Error{Pointer: ptr, Msg: "must be an object"}
		}
		col, err := compileColumn(name, ptr, spec)
		if err != nil {
			return nil, err
		}
		col.Required = required[name]
		s.index[name] = len(s.Columns)
		s.Columns = append(s.Columns, col)
	}
	for name := range required {
		if _, ok := s.index[name]; !ok {
			return nil, &Error{Pointer: "/required", Msg: fmt.Sprintf("%q is required but not declared in properties", name)}
		}
	}
	return s, nil
}

func unsupported(ptr, key string) error {
	return &Error{Pointer: ptr, Msg: fmt.Sprintf("keyword %q is not supported by Weir's compiled validator; "+
		"supported: type, properties, required, additionalProperties, enum, const, minimum, maximum, "+
		"exclusiveMinimum, exclusiveMaximum, multipleOf, minLength, maxLength, pattern, format: date-time", key)}
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func compileColumn(name, ptr string, spec map[string]any) (Column, error) {
	col := Column{Name: name, MinLength: -1, MaxLength: -1}
	var types []string
	switch t := spec["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return col, &Error{Pointer: ptr + "/type", Msg: "must be a type name or an array of type names"}
			}
			types = append(types, s)
		}
	default:
		return col, &Error{Pointer: ptr + "/type", Msg: "every property needs a type (string, integer, number, boolean; with format date-time for timestamps)"}
	}
	format, _ := spec["format"].(string)
	if f, ok := spec["format"]; ok && format != "date-time" {
		return col, &Error{Pointer: ptr + "/format", Msg: fmt.Sprintf("format %v is not supported; only \"date-time\" (a timestamp column) is", f)}
	}
	var base []string
	for _, t := range types {
		if t == "null" {
			col.Nullable = true
			continue
		}
		base = append(base, t)
	}
	sort.Strings(base)
	switch {
	case format == "date-time" && len(base) == 1 && base[0] == "string":
		col.Type = Timestamp
	case format == "date-time" && len(base) == 2 && base[0] == "integer" && base[1] == "string":
		col.Type = Timestamp
		col.AcceptEpochMillis = true
	case format == "date-time":
		return col, &Error{Pointer: ptr + "/type", Msg: `a date-time column must have type "string" (RFC 3339) or ["string", "integer"] (RFC 3339 or epoch milliseconds)`}
	case len(base) == 1:
		switch base[0] {
		case "string":
			col.Type = String
		case "integer":
			col.Type = Int64
		case "number":
			col.Type = Float64
		case "boolean":
			col.Type = Bool
		case "object", "array":
			return col, &Error{Pointer: ptr + "/type", Msg: fmt.Sprintf("nested %s properties are not supported yet; flatten the event or send the value as a JSON string", base[0])}
		default:
			return col, &Error{Pointer: ptr + "/type", Msg: fmt.Sprintf("unknown type %q", base[0])}
		}
	default:
		return col, &Error{Pointer: ptr + "/type", Msg: fmt.Sprintf("a property has one type (plus optionally \"null\"), got %v", types)}
	}

	var enumVals, constVals []enumValue // non-nil when the keyword is given
	for key, val := range spec {
		kptr := ptr + "/" + key
		switch key {
		case "type", "format":
		case "enum", "const":
			var vals []any
			if key == "const" {
				vals = []any{val}
			} else if list, ok := val.([]any); ok {
				vals = list
			} else {
				return col, &Error{Pointer: kptr, Msg: "must be an array"}
			}
			allowed := make([]enumValue, 0, len(vals))
			for _, v := range vals {
				switch x := v.(type) {
				case string, bool, nil:
					allowed = append(allowed, enumValue{v: x})
				case json.Number:
					f, _ := x.Float64()
					allowed = append(allowed, enumValue{v: f, exact: newExactNum(x.String())})
				default:
					return col, &Error{Pointer: kptr, Msg: "values must be strings, numbers, booleans or null"}
				}
			}
			if key == "const" {
				constVals = allowed
			} else {
				enumVals = allowed
			}
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf":
			if col.Type != Int64 && col.Type != Float64 {
				return col, &Error{Pointer: kptr, Msg: key + " applies only to integer and number properties"}
			}
			n, ok := val.(json.Number)
			if !ok {
				return col, &Error{Pointer: kptr, Msg: "must be a number"}
			}
			f, err := n.Float64()
			if err != nil || math.IsInf(f, 0) {
				return col, &Error{Pointer: kptr, Msg: "must be a finite number"}
			}
			x := newExactNum(n.String())
			switch key {
			case "minimum":
				col.Minimum, col.exact.minimum = &f, x
			case "maximum":
				col.Maximum, col.exact.maximum = &f, x
			case "exclusiveMinimum":
				col.ExclusiveMinimum, col.exact.exclusiveMinimum = &f, x
			case "exclusiveMaximum":
				col.ExclusiveMaximum, col.exact.exclusiveMaximum = &f, x
			case "multipleOf":
				if f <= 0 || x.rat == nil {
					return col, &Error{Pointer: kptr, Msg: "must be greater than 0"}
				}
				col.MultipleOf, col.exact.multipleOf = &f, x
			}
		case "minLength", "maxLength":
			if col.Type != String {
				return col, &Error{Pointer: kptr, Msg: key + " applies only to string properties"}
			}
			n, ok := val.(json.Number)
			i, err := n.Int64()
			if !ok || err != nil || i < 0 || i > math.MaxInt32 {
				return col, &Error{Pointer: kptr, Msg: "must be a non-negative integer"}
			}
			if key == "minLength" {
				col.MinLength = int(i)
			} else {
				col.MaxLength = int(i)
			}
		case "pattern":
			if col.Type != String {
				return col, &Error{Pointer: kptr, Msg: "pattern applies only to string properties"}
			}
			p, ok := val.(string)
			if !ok {
				return col, &Error{Pointer: kptr, Msg: "must be a regular expression string"}
			}
			re, err := regexp.Compile(p)
			if err != nil {
				return col, &Error{Pointer: kptr, Msg: fmt.Sprintf("invalid regular expression: %v", err)}
			}
			col.Pattern, col.simple = re, compilePattern(p)
		default:
			if !ignoredKeywords[key] {
				return col, unsupported(kptr, key)
			}
		}
	}
	if enumVals != nil && constVals != nil {
		// Both must hold: the const value, if enum lists it too.
		both := []enumValue{}
		for _, e := range enumVals {
			if e.equal(constVals[0]) {
				both = constVals
			}
		}
		enumVals = both
	} else if constVals != nil {
		enumVals = constVals
	}
	if enumVals != nil {
		col.Enum = make([]any, len(enumVals))
		col.exact.enum = make([]exactNum, len(enumVals))
		for i, e := range enumVals {
			col.Enum[i], col.exact.enum[i] = e.v, e.exact
		}
	}
	return col, nil
}

// enumValue is a value of enum or const.
type enumValue struct {
	v     any      // string, float64, bool or nil
	exact exactNum // numbers
}

func (a enumValue) equal(b enumValue) bool {
	if a.exact.rat != nil && b.exact.rat != nil {
		return a.exact.rat.Cmp(b.exact.rat) == 0
	}
	return a.v == b.v
}

// propertyOrder returns the property names in the order the document lists
// them; encoding/json maps lose that order, and column order is what a user
// reads in query results.
func propertyOrder(src []byte, props map[string]any) []string {
	dec := json.NewDecoder(bytes.NewReader(src))
	order, ok := walkTopLevel(dec)
	if !ok || len(order) != len(props) {
		order = order[:0]
		for name := range props {
			order = append(order, name)
		}
		sort.Strings(order)
	}
	return order
}

func walkTopLevel(dec *json.Decoder) ([]string, bool) {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var order []string
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, false
		}
		if key != "properties" {
			if skipValue(dec) != nil {
				return nil, false
			}
			continue
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return nil, false
		}
		for dec.More() {
			name, err := dec.Token()
			if err != nil {
				return nil, false
			}
			order = append(order, name.(string))
			if skipValue(dec) != nil {
				return nil, false
			}
		}
		if _, err := dec.Token(); err != nil { // closing '}'
			return nil, false
		}
	}
	return order, true
}

// skipValue consumes one JSON value from dec.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}
