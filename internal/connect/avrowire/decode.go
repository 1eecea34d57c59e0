// Package avrowire reads and writes Avro records in the Confluent wire
// format: a zero magic byte, the writer schema's id in a schema registry
// (4 bytes, big endian), then the record in Avro's binary encoding.
//
// Reading, a Decoder turns such a value into the JSON object the gate
// validates, with a transcoder compiled once per schema id (no generic
// maps in between). Writing, an Encoder turns a stream's rows into Avro
// under a record schema derived from the stream's schema (SchemaFor),
// registered in the registry under the sink's subject.
//
// Schemas are parsed and registered with github.com/hamba/avro/v2 and its
// registry client. This package knows Avro and the registry, not Kafka: the
// Kafka source and sink call it; it must not import the node or the log.
package avrowire

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"strconv"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/registry"

	"github.com/weirhq/weir/internal/schema"
)

// RecordError is a value that cannot be read: not in the wire format, a
// schema id the registry does not have, or bytes that do not decode under
// their schema. The record belongs in the quarantine; the rest of the batch
// is fine.
type RecordError struct {
	Rule   string // "format", "schema"
	Reason string
}

func (e *RecordError) Error() string { return e.Reason }

// Decoder reads Confluent-framed Avro values. It is not safe for concurrent
// use.
type Decoder struct {
	reg   *registry.Client
	url   string
	progs map[uint32]*program
	r     *avro.Reader
}

// NewDecoder reads schemas from the registry at url
// (http://HOST:PORT[/PATH], Confluent's REST API).
func NewDecoder(url string, client *http.Client) (*Decoder, error) {
	reg, err := newRegistry(url, client)
	if err != nil {
		return nil, err
	}
	return &Decoder{reg: reg, url: url, progs: map[uint32]*program{}, r: avro.NewReader(nil, 0)}, nil
}

func newRegistry(url string, client *http.Client) (*registry.Client, error) {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	reg, err := registry.NewClient(url, registry.WithHTTPClient(client))
	if err != nil {
		return nil, fmt.Errorf("schema registry %q: %v (give its base URL, like http://registry:8081)", url, err)
	}
	return reg, nil
}

// Append appends value as a JSON object to dst. An error that is not a
// *RecordError is transient (the registry cannot be reached): try again.
func (d *Decoder) Append(ctx context.Context, dst, value []byte) ([]byte, error) {
	if len(value) < 5 || value[0] != 0 {
		return dst, &RecordError{Rule: "format", Reason: fmt.Sprintf("not Avro in the Confluent wire format: it starts with %s, not a zero byte and a 4-byte schema id (is the topic JSON? then set format: json)", head(value))}
	}
	id := binary.BigEndian.Uint32(value[1:5])
	p, err := d.program(ctx, id)
	if err != nil {
		return dst, err
	}
	d.r.Reset(value[5:])
	d.r.Error = nil
	start := len(dst)
	dst = p.emit(d.r, dst)
	if d.r.Error != nil {
		return dst[:start], &RecordError{Rule: "format", Reason: fmt.Sprintf("does not decode as Avro under schema id %d: %v", id, d.r.Error)}
	}
	if d.r.Peek(); d.r.Error == nil {
		return dst[:start], &RecordError{Rule: "format", Reason: fmt.Sprintf("has bytes left over after the record under schema id %d: it was written with another schema", id)}
	}
	return dst, nil
}

func head(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return fmt.Sprintf("% x", b)
}

// program finds or compiles schema id's transcoder.
func (d *Decoder) program(ctx context.Context, id uint32) (*program, error) {
	if p := d.progs[id]; p != nil {
		return p, nil
	}
	sc, err := d.reg.GetSchema(ctx, int(id))
	if err != nil {
		var re registry.Error
		if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
			return nil, &RecordError{Rule: "schema", Reason: fmt.Sprintf("its schema id %d is not in the schema registry at %s (was the record written against another registry?)", id, d.url)}
		}
		return nil, fmt.Errorf("schema registry %s: cannot fetch schema id %d: %w", d.url, id, err)
	}
	p, err := compileProgram(sc)
	if err != nil {
		return nil, &RecordError{Rule: "schema", Reason: fmt.Sprintf("schema id %d: %v", id, err)}
	}
	d.progs[id] = p
	return p, nil
}

// program is one schema's transcoder: it reads a value of the schema and
// appends it as JSON.
type program struct {
	emit func(r *avro.Reader, dst []byte) []byte
}

// compileProgram builds the transcoder of a schema. A top-level value
// must be a record (the event's columns).
func compileProgram(sc avro.Schema) (*program, error) {
	if sc.Type() != avro.Record {
		return nil, fmt.Errorf("the schema is a %s, not a record: an event is a record of columns", sc.Type())
	}
	c := compiler{named: map[string]*program{}}
	return c.compile(sc)
}

type compiler struct {
	named map[string]*program // records by full name, for recursive types
}

func (c *compiler) compile(sc avro.Schema) (*program, error) {
	if ref, ok := sc.(*avro.RefSchema); ok {
		sc = ref.Schema()
	}
	var logical string
	if ls, ok := sc.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		logical = string(ls.Logical().Type())
	}
	switch s := sc.(type) {
	case *avro.NullSchema:
		return &program{func(_ *avro.Reader, dst []byte) []byte { return append(dst, "null"...) }}, nil
	case *avro.PrimitiveSchema:
		return primitive(s, logical)
	case *avro.RecordSchema:
		if p := c.named[s.FullName()]; p != nil {
			return p, nil
		}
		p := &program{}
		c.named[s.FullName()] = p
		keys := make([][]byte, len(s.Fields()))
		fields := make([]*program, len(s.Fields()))
		for i, f := range s.Fields() {
			fp, err := c.compile(f.Type())
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name(), err)
			}
			keys[i], fields[i] = schema.JSONKey(f.Name()), fp
		}
		p.emit = func(r *avro.Reader, dst []byte) []byte {
			dst = append(dst, '{')
			for i, f := range fields {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = f.emit(r, append(dst, keys[i]...))
			}
			return append(dst, '}')
		}
		return p, nil
	case *avro.EnumSchema:
		syms := make([][]byte, len(s.Symbols()))
		for i, sym := range s.Symbols() {
			syms[i] = schema.AppendJSONString(nil, sym)
		}
		return &program{func(r *avro.Reader, dst []byte) []byte {
			i := int(r.ReadInt())
			if i < 0 || i >= len(syms) {
				r.ReportError("enum", fmt.Sprintf("symbol index %d out of range", i))
				return dst
			}
			return append(dst, syms[i]...)
		}}, nil
	case *avro.ArraySchema:
		item, err := c.compile(s.Items())
		if err != nil {
			return nil, err
		}
		return &program{func(r *avro.Reader, dst []byte) []byte {
			dst = append(dst, '[')
			n := 0
			r.ReadArrayCB(func(r *avro.Reader) bool {
				if n > 0 {
					dst = append(dst, ',')
				}
				n++
				dst = item.emit(r, dst)
				return r.Error == nil
			})
			return append(dst, ']')
		}}, nil
	case *avro.MapSchema:
		val, err := c.compile(s.Values())
		if err != nil {
			return nil, err
		}
		return &program{func(r *avro.Reader, dst []byte) []byte {
			dst = append(dst, '{')
			n := 0
			r.ReadMapCB(func(r *avro.Reader, k string) bool {
				if n > 0 {
					dst = append(dst, ',')
				}
				n++
				dst = append(schema.AppendJSONString(dst, k), ':')
				dst = val.emit(r, dst)
				return r.Error == nil
			})
			return append(dst, '}')
		}}, nil
	case *avro.UnionSchema:
		branches := make([]*program, len(s.Types()))
		for i, t := range s.Types() {
			b, err := c.compile(t)
			if err != nil {
				return nil, err
			}
			branches[i] = b
		}
		return &program{func(r *avro.Reader, dst []byte) []byte {
			i := int(r.ReadLong())
			if i < 0 || i >= len(branches) {
				r.ReportError("union", fmt.Sprintf("branch index %d out of range", i))
				return dst
			}
			return branches[i].emit(r, dst)
		}}, nil
	case *avro.FixedSchema:
		size := s.Size()
		if logical == "decimal" {
			scale := s.Logical().(*avro.DecimalLogicalSchema).Scale()
			return &program{func(r *avro.Reader, dst []byte) []byte {
				b := make([]byte, size)
				r.Read(b)
				return appendDecimal(dst, b, scale)
			}}, nil
		}
		return &program{func(r *avro.Reader, dst []byte) []byte {
			b := make([]byte, size)
			r.Read(b)
			return appendBase64(dst, b)
		}}, nil
	}
	return nil, fmt.Errorf("Avro type %s is not supported", sc.Type())
}

func primitive(s *avro.PrimitiveSchema, logical string) (*program, error) {
	switch s.Type() {
	case avro.Boolean:
		return &program{func(r *avro.Reader, dst []byte) []byte { return strconv.AppendBool(dst, r.ReadBool()) }}, nil
	case avro.Int:
		if logical == "date" {
			return &program{func(r *avro.Reader, dst []byte) []byte {
				d := time.Unix(int64(r.ReadInt())*86400, 0).UTC()
				return append(append(append(dst, '"'), d.Format(time.DateOnly)...), '"')
			}}, nil
		}
		return &program{func(r *avro.Reader, dst []byte) []byte { return strconv.AppendInt(dst, int64(r.ReadInt()), 10) }}, nil
	case avro.Long:
		var unit func(int64) time.Time
		switch logical {
		case "timestamp-millis", "local-timestamp-millis":
			unit = time.UnixMilli
		case "timestamp-micros", "local-timestamp-micros":
			unit = time.UnixMicro
		case "timestamp-nanos", "local-timestamp-nanos":
			unit = func(n int64) time.Time { return time.Unix(0, n) }
		}
		if unit != nil {
			return &program{func(r *avro.Reader, dst []byte) []byte {
				t := unit(r.ReadLong()).UTC()
				return append(t.AppendFormat(append(dst, '"'), time.RFC3339Nano), '"')
			}}, nil
		}
		return &program{func(r *avro.Reader, dst []byte) []byte { return strconv.AppendInt(dst, r.ReadLong(), 10) }}, nil
	case avro.Float:
		return &program{func(r *avro.Reader, dst []byte) []byte { return appendFloat(r, dst, float64(r.ReadFloat()), 32) }}, nil
	case avro.Double:
		return &program{func(r *avro.Reader, dst []byte) []byte { return appendFloat(r, dst, r.ReadDouble(), 64) }}, nil
	case avro.String:
		return &program{func(r *avro.Reader, dst []byte) []byte { return schema.AppendJSONString(dst, r.ReadString()) }}, nil
	case avro.Bytes:
		if logical == "decimal" {
			scale := s.Logical().(*avro.DecimalLogicalSchema).Scale()
			return &program{func(r *avro.Reader, dst []byte) []byte { return appendDecimal(dst, r.ReadBytes(), scale) }}, nil
		}
		return &program{func(r *avro.Reader, dst []byte) []byte { return appendBase64(dst, r.ReadBytes()) }}, nil
	}
	return nil, fmt.Errorf("Avro type %s is not supported", s.Type())
}

func appendFloat(r *avro.Reader, dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		r.ReportError("float", fmt.Sprintf("%v has no JSON form", f))
		return dst
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// appendDecimal writes a two's-complement big-endian unscaled value as a
// JSON number with scale digits after the point.
func appendDecimal(dst, b []byte, scale int) []byte {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 { // negative
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return append(dst, new(big.Rat).SetFrac(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)).FloatString(scale)...)
}

func appendBase64(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}
