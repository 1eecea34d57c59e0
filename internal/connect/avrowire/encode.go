package avrowire

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/registry"

	"github.com/weirhq/weir/internal/schema"
)

var avroName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// SchemaFor is the Avro record schema of a stream's rows, as JSON: one
// field per column, in order; strings as string, integers as long,
// numbers as double, booleans as boolean, timestamps as long with logical
// type timestamp-micros; a column that may be null or absent as a union
// with null first and a null default, so that readers with an older
// schema can read newer records and the other way round.
func SchemaFor(name string, sc *schema.Schema) (string, error) {
	if !avroName.MatchString(name) {
		return "", fmt.Errorf("%q is not a valid Avro record name (letters, digits and _, not starting with a digit); set record_name", name)
	}
	type field struct {
		Name string `json:"name"`
		Type any    `json:"type"`
	}
	fields := make([]json.RawMessage, 0, len(sc.Columns))
	for _, c := range sc.Columns {
		if !avroName.MatchString(c.Name) {
			return "", fmt.Errorf("column %q is not a valid Avro field name (letters, digits and _, not starting with a digit): rename it in the stream's schema, or send the stream as JSON", c.Name)
		}
		var t any
		switch c.Type {
		case schema.String:
			t = "string"
		case schema.Int64:
			t = "long"
		case schema.Float64:
			t = "double"
		case schema.Bool:
			t = "boolean"
		case schema.Timestamp:
			t = map[string]string{"type": "long", "logicalType": "timestamp-micros"}
		default:
			return "", fmt.Errorf("BUG: column %q has type %v", c.Name, c.Type)
		}
		var b []byte
		if optional(c) {
			b, _ = json.Marshal(struct {
				Name    string `json:"name"`
				Type    []any  `json:"type"`
				Default any    `json:"default"`
			}{c.Name, []any{"null", t}, nil})
		} else {
			b, _ = json.Marshal(field{Name: c.Name, Type: t})
		}
		fields = append(fields, b)
	}
	b, _ := json.Marshal(struct {
		Type   string            `json:"type"`
		Name   string            `json:"name"`
		Fields []json.RawMessage `json:"fields"`
	}{"record", name, fields})
	if _, err := avro.ParseBytes(b); err != nil {
		return "", fmt.Errorf("BUG: derived Avro schema does not parse: %v: %s", err, b)
	}
	return string(b), nil
}

// optional: the column may hold no value (null, or absent).
func optional(c schema.Column) bool { return c.Nullable || !c.Required }

// Encoder writes rows of one stream schema version as Confluent-framed
// Avro under a registered schema id.
type Encoder struct {
	ID   uint32
	cols []schema.Column
}

// Append appends one row (its values in column order).
func (e *Encoder) Append(dst []byte, vals []schema.Value) []byte {
	dst = append(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, e.ID)
	for i, c := range e.cols {
		v := vals[i]
		if optional(c) {
			if v.Null {
				dst = binary.AppendVarint(dst, 0) // the null branch
				continue
			}
			dst = binary.AppendVarint(dst, 1)
		}
		switch c.Type {
		case schema.String:
			dst = binary.AppendVarint(dst, int64(len(v.Bytes)))
			dst = append(dst, v.Bytes...)
		case schema.Int64, schema.Timestamp:
			dst = binary.AppendVarint(dst, v.Int) // Avro's long: zigzag varint, as Go's
		case schema.Float64:
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Float))
		case schema.Bool:
			dst = append(dst, byte(v.Int&1))
		}
	}
	return dst
}

// Registry registers the sink's schemas: one Encoder per stream schema
// version, each registered once under the subject.
type Registry struct {
	reg     *registry.Client
	url     string
	subject string
	name    string
	byVer   map[*schema.Schema]*Encoder
}

// NewRegistry registers schemas named name under subject at url.
func NewRegistry(url, subject, name string, client *http.Client) (*Registry, error) {
	reg, err := newRegistry(url, client)
	if err != nil {
		return nil, err
	}
	return &Registry{reg: reg, url: url, subject: subject, name: name, byVer: map[*schema.Schema]*Encoder{}}, nil
}

// ErrRefused wraps the registry's refusal of a schema (incompatible with
// the subject's earlier versions): retrying does not help.
var ErrRefused = errors.New("the schema registry refuses the schema")

// Encoder registers (or finds) sc's Avro schema and returns its encoder.
func (r *Registry) Encoder(ctx context.Context, sc *schema.Schema) (*Encoder, error) {
	if e := r.byVer[sc]; e != nil {
		return e, nil
	}
	js, err := SchemaFor(r.name, sc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRefused, err)
	}
	id, _, err := r.reg.CreateSchema(ctx, r.subject, js)
	if err != nil {
		var re registry.Error
		if errors.As(err, &re) && (re.StatusCode == http.StatusConflict || re.StatusCode == http.StatusUnprocessableEntity) {
			return nil, fmt.Errorf("%w under subject %s at %s: %s (the stream's schema changed in a way the subject's compatibility level forbids; change the level or the subject): %s", ErrRefused, r.subject, r.url, re.Message, js)
		}
		return nil, fmt.Errorf("schema registry %s: cannot register the schema under subject %s: %w", r.url, r.subject, err)
	}
	e := &Encoder{ID: uint32(id), cols: sc.Columns}
	r.byVer[sc] = e
	return e, nil
}
