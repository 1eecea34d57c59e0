package schema

import (
	"encoding/json"
	"strconv"
)

// The decoder reads an event in one pass over its bytes: it checks the RFC
// 8259 grammar as it goes (the same rules as validJSON) and notes, for each
// declared property, where its value is and what JSON type it has. The
// values are then checked and encoded in column order (decoder.go). Values
// of undeclared properties are only checked for grammar.

// kind is the JSON type of a value, named in messages as JSON Schema does
// ("got number 1.5"), with true and false apart.
type kind uint8

const (
	kAbsent kind = iota
	kObject
	kArray
	kString
	kNumber
	kTrue
	kFalse
	kNull
)

func (k kind) String() string {
	return [...]string{"absent", "object", "array", "string", "number", "true", "false", "null"}[k]
}

// field is the value of one declared property of the event at hand.
type field struct {
	text []byte // as written; for a string, the text between the quotes
	kind kind
	esc  bool // a string with escapes: decode text before using it
}

// maxEventDepth bounds the nesting of an event: the event object is level
// 1. It keeps a hostile event from costing more than its bytes.
const maxEventDepth = 300

// scan reads the event raw into d.fields. It returns the first rule the
// event as a whole breaks: JSON grammar, not an object, or an undeclared
// property where the schema allows none (reported only if the grammar
// holds throughout).
func (d *Decoder) scan(raw []byte) *Violation {
	clear(d.fields)
	d.next = 0
	var undeclared *Violation
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		if !validJSON(raw) {
			return jsonViolation(raw)
		}
		return &Violation{Rule: "type", Detail: "expected a JSON object, got " + kindOf(raw[i]).String()}
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		i++
	} else {
		for {
			if i >= len(raw) || raw[i] != '"' {
				return jsonViolation(raw)
			}
			end, esc, ok := validString(raw, i+1)
			if !ok {
				return jsonViolation(raw)
			}
			key := raw[i+1 : end-1]
			if esc {
				d.keyText = appendUnquoted(d.keyText[:0], key)
				key = d.keyText
			}
			col := d.lookup(key)
			if col < 0 && undeclared == nil && !d.s.AdditionalProperties {
				undeclared = &Violation{Field: string(key), Rule: "additionalProperties", Detail: "not declared in the schema, and the schema sets additionalProperties: false"}
			}
			i = skipSpace(raw, end)
			if i >= len(raw) || raw[i] != ':' {
				return jsonViolation(raw)
			}
			i = skipSpace(raw, i+1)
			if i >= len(raw) {
				return jsonViolation(raw)
			}
			start := i
			f := field{kind: kindOf(raw[i])}
			switch f.kind {
			case kString:
				i, f.esc, ok = validString(raw, i+1)
				if ok {
					f.text = raw[start+1 : i-1]
				}
			case kObject, kArray:
				i, ok = validValue(raw, i, maxJSONDepth-maxEventDepth+1)
				f.text = raw[start:i]
			case kTrue:
				i, ok = literal(raw, i, "true")
			case kFalse:
				i, ok = literal(raw, i, "false")
			case kNull:
				i, ok = literal(raw, i, "null")
			default:
				i, ok = validNumber(raw, i)
				f.text = raw[start:i]
			}
			if !ok {
				return jsonViolation(raw)
			}
			if col >= 0 {
				d.fields[col] = f // a repeated key: the last one wins, as in most JSON decoders
			}
			var done bool
			if i, done, ok = afterElement(raw, i, '}'); !ok {
				return jsonViolation(raw)
			} else if done {
				break
			}
		}
	}
	if skipSpace(raw, i) != len(raw) {
		return jsonViolation(raw)
	}
	return undeclared
}

// lookup returns the column of the property key, or -1. Producers write
// the properties of their events in the same order every time, most often
// the schema's, so the column after the last one found is tried first.
func (d *Decoder) lookup(key []byte) int {
	cols := d.s.Columns
	if n := d.next; n < len(cols) && string(key) == cols[n].Name {
		d.next = n + 1
		return n
	}
	i, ok := d.s.index[string(key)]
	if !ok {
		return -1
	}
	d.next = i + 1
	return i
}

// kindOf returns the type of the JSON value that starts with c; anything
// that is not one of the others is read as a number.
func kindOf(c byte) kind {
	switch c {
	case '{':
		return kObject
	case '[':
		return kArray
	case '"':
		return kString
	case 't':
		return kTrue
	case 'f':
		return kFalse
	case 'n':
		return kNull
	}
	return kNumber
}

// jsonViolation explains why raw is not JSON.
func jsonViolation(raw []byte) *Violation {
	var x any
	if err := json.Unmarshal(raw, &x); err != nil {
		return &Violation{Rule: "json", Detail: "invalid JSON: " + err.Error()}
	}
	return &Violation{Rule: "json", Detail: "invalid JSON: nested deeper than " + strconv.Itoa(maxEventDepth) + " levels"}
}
