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
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"net/url"
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
	reg     *registry.Client
	url     string
	columns map[string]schema.Column // the stream's, by name
	progs   map[uint32]*program
	bad     map[uint32]refusal // schema ids that cannot be read, for a while
	st      state
}

// refusal is a schema id's RecordError, kept until a time.
type refusal struct {
	err   *RecordError
	until time.Time
}

// state is the reading of one value.
type state struct {
	r     *avro.Reader
	size  int    // the value's bytes
	items int    // how many more array and map items the value may hold: at most one per byte in all
	depth int    // nested records
	fixed []byte // scratch for fixed values
}

// readFixed reads n bytes into the scratch buffer.
func (st *state) readFixed(n int) []byte {
	if cap(st.fixed) < n {
		st.fixed = make([]byte, n)
	}
	b := st.fixed[:n]
	st.r.Read(b)
	return b
}

// maxDepth bounds nested (recursive) records.
const maxDepth = 64

// readerConfig lets strings and bytes be as long as a Kafka message.
var readerConfig = avro.Config{MaxByteSliceSize: 64 << 20}.Freeze()

// NewDecoder reads schemas from the registry at url
// (http://HOST:PORT[/PATH], Confluent's REST API). A record's fields become
// the JSON object's properties; a null field is left out unless columns
// (the stream's) has it nullable, so an optional column reads as absent.
func NewDecoder(url string, client *http.Client, columns []schema.Column) (*Decoder, error) {
	reg, err := newRegistry(url, client)
	if err != nil {
		return nil, err
	}
	d := &Decoder{reg: reg, url: url, columns: map[string]schema.Column{}, progs: map[uint32]*program{}, bad: map[uint32]refusal{},
		st: state{r: avro.NewReader(nil, 0, avro.WithReaderConfig(readerConfig))}}
	for _, c := range columns {
		d.columns[c.Name] = c
	}
	return d, nil
}

func newRegistry(url string, client *http.Client) (*registry.Client, error) {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	c := *client
	c.Transport = jsonAnswers{base: client.Transport}
	reg, err := registry.NewClient(url, registry.WithHTTPClient(&c))
	if err != nil {
		return nil, fmt.Errorf("schema registry %q: %v (give its base URL, like http://registry:8081)", url, err)
	}
	return reg, nil
}

// jsonAnswers turns a registry's 200 answer that is not JSON into a
// transport error. Such an answer comes from something else at the URL (a
// proxy's login page, a web server): the client would report it as a
// schema it cannot parse, and the records naming it would be quarantined;
// as a transport error it holds the source until the URL is right.
type jsonAnswers struct{ base http.RoundTripper }

func (j jsonAnswers) RoundTrip(req *http.Request) (*http.Response, error) {
	base := j.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	const limit = 64 << 20
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(body) > limit {
		return nil, fmt.Errorf("the schema registry answered %s with over %d MiB: is the URL the registry's base URL (like http://registry:8081)?", req.URL.Path, limit>>20)
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' && t[0] != '[' {
		return nil, fmt.Errorf("the schema registry answered 200 with something that is not JSON (Content-Type %q, starting %.40q): is the URL the registry's base URL (like http://registry:8081)?",
			resp.Header.Get("Content-Type"), t)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
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
	st := &d.st
	st.r.Reset(value[5:])
	st.r.Error, st.size, st.items, st.depth = nil, len(value), len(value), 0
	start := len(dst)
	dst = p.emit(st, dst)
	if st.r.Error != nil {
		return dst[:start], &RecordError{Rule: "format", Reason: fmt.Sprintf("does not decode under its Avro schema (id %d): %v", id, st.r.Error)}
	}
	if st.r.Peek(); st.r.Error == nil {
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

// program finds or compiles schema id's transcoder. A schema the registry
// does not have, or that is not an Avro record schema we can read, is a
// RecordError (remembered for a minute: an id may be registered late); a
// registry that cannot be reached, or answers 5xx or 429 (or 200 with
// something that is not JSON, see jsonAnswers), is transient.
func (d *Decoder) program(ctx context.Context, id uint32) (*program, error) {
	if p := d.progs[id]; p != nil {
		return p, nil
	}
	if b, ok := d.bad[id]; ok && time.Now().Before(b.until) {
		return nil, b.err
	}
	refuse := func(reason string) (*program, error) {
		err := &RecordError{Rule: "schema", Reason: reason}
		d.bad[id] = refusal{err, time.Now().Add(time.Minute)}
		return nil, err
	}
	sc, err := d.reg.GetSchema(ctx, int(id))
	var re registry.Error
	var ue *url.Error
	switch {
	case err == nil:
	case errors.As(err, &re) && re.Code == 40403:
		return refuse(fmt.Sprintf("names schema id %d, which the schema registry at %s does not have (was it written against another registry?)", id, d.url))
	case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("schema registry %s answers 404 for /schemas/ids/%d without saying the schema is missing: is schema_registry the base URL of Confluent's API (for Apicurio, …/apis/ccompat/v7)?", d.url, id)
	case errors.As(err, &re) && re.StatusCode < 500 && re.StatusCode != http.StatusTooManyRequests && re.StatusCode != http.StatusRequestTimeout &&
		re.StatusCode != http.StatusUnauthorized && re.StatusCode != http.StatusForbidden:
		return refuse(fmt.Sprintf("names schema id %d, which the schema registry at %s refuses: %v", id, d.url, err))
	case errors.As(err, &re), errors.As(err, &ue), ctx.Err() != nil:
		return nil, fmt.Errorf("schema registry %s: cannot fetch schema id %d: %w", d.url, id, err)
	default: // the registry answered, but with no Avro schema we can parse (JSON Schema, Protobuf, references)
		return refuse(fmt.Sprintf("names schema id %d, which is not an Avro schema Weir can read: %v", id, err))
	}
	p, err := compileProgram(sc, d.columns)
	if err != nil {
		return refuse(fmt.Sprintf("names schema id %d: %v", id, err))
	}
	d.progs[id] = p
	return p, nil
}

// program is one schema's transcoder: it reads a value of the schema and
// appends it as JSON.
type program struct {
	emit func(st *state, dst []byte) []byte
}

// compileProgram builds the transcoder of a schema. A top-level value
// must be a record (the event's columns); its null fields are left out
// unless columns has them nullable.
func compileProgram(sc avro.Schema, columns map[string]schema.Column) (*program, error) {
	if sc.Type() != avro.Record {
		return nil, fmt.Errorf("the schema is a %s, not a record: an event is a record of columns", sc.Type())
	}
	c := compiler{named: map[string]*program{}, top: sc, columns: columns}
	return c.compile(sc)
}

type compiler struct {
	named   map[string]*program // records by full name, for recursive types
	top     avro.Schema
	columns map[string]schema.Column
}

func (c *compiler) compile(sc avro.Schema) (*program, error) {
	if ref, ok := sc.(*avro.RefSchema); ok {
		sc = ref.Schema()
	}
	var logical string
	if ls, ok := sc.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		logical = string(ls.Logical().Type())
	} else if ps, ok := sc.(*avro.PrimitiveSchema); ok {
		logical, _ = ps.Prop("logicalType").(string) // types hamba does not know (timestamp-nanos)
	}
	switch s := sc.(type) {
	case *avro.NullSchema:
		return &program{func(_ *state, dst []byte) []byte { return append(dst, "null"...) }}, nil
	case *avro.PrimitiveSchema:
		return primitive(s, logical)
	case *avro.RecordSchema:
		if p := c.named[s.FullName()]; p != nil {
			return p, nil
		}
		p := &program{}
		c.named[s.FullName()] = p
		top := sc == c.top
		keys := make([][]byte, len(s.Fields()))
		fields := make([]*program, len(s.Fields()))
		omitNull := make([]bool, len(s.Fields()))
		for i, f := range s.Fields() {
			fp, err := c.compile(f.Type())
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name(), err)
			}
			keys[i], fields[i] = schema.JSONKey(f.Name()), fp
			omitNull[i] = top && !c.columns[f.Name()].Nullable
		}
		p.emit = func(st *state, dst []byte) []byte {
			if st.depth++; st.depth > maxDepth {
				st.r.ReportError("record", fmt.Sprintf("records nested more than %d deep", maxDepth))
				return dst
			}
			dst = append(dst, '{')
			open := len(dst)
			for i, f := range fields {
				at := len(dst)
				if at > open {
					dst = append(dst, ',')
				}
				dst = f.emit(st, append(dst, keys[i]...))
				if omitNull[i] && string(dst[len(dst)-4:]) == "null" && dst[len(dst)-5] == ':' {
					dst = dst[:at] // an absent value
				}
			}
			st.depth--
			return append(dst, '}')
		}
		return p, nil
	case *avro.EnumSchema:
		syms := make([][]byte, len(s.Symbols()))
		for i, sym := range s.Symbols() {
			syms[i] = schema.AppendJSONString(nil, sym)
		}
		return &program{func(st *state, dst []byte) []byte {
			i := int(st.r.ReadInt())
			if i < 0 || i >= len(syms) {
				st.r.ReportError("enum", fmt.Sprintf("symbol index %d out of range", i))
				return dst
			}
			return append(dst, syms[i]...)
		}}, nil
	case *avro.ArraySchema:
		item, err := c.compile(s.Items())
		if err != nil {
			return nil, err
		}
		return &program{func(st *state, dst []byte) []byte {
			dst = append(dst, '[')
			st.blocks("array", func(n int) {
				if n > 0 {
					dst = append(dst, ',')
				}
				dst = item.emit(st, dst)
			})
			return append(dst, ']')
		}}, nil
	case *avro.MapSchema:
		val, err := c.compile(s.Values())
		if err != nil {
			return nil, err
		}
		return &program{func(st *state, dst []byte) []byte {
			dst = append(dst, '{')
			st.blocks("map", func(n int) {
				if n > 0 {
					dst = append(dst, ',')
				}
				dst = append(schema.AppendJSONStringRaw(dst, st.r.ReadString()), ':')
				dst = val.emit(st, dst)
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
		return &program{func(st *state, dst []byte) []byte {
			i := st.r.ReadLong()
			if i < 0 || i >= int64(len(branches)) {
				st.r.ReportError("union", fmt.Sprintf("branch index %d out of range", i))
				return dst
			}
			return branches[i].emit(st, dst)
		}}, nil
	case *avro.FixedSchema:
		size := s.Size()
		if logical == "decimal" {
			scale := s.Logical().(*avro.DecimalLogicalSchema).Scale()
			return &program{func(st *state, dst []byte) []byte { return appendDecimal(dst, st.readFixed(size), scale) }}, nil
		}
		return &program{func(st *state, dst []byte) []byte { return appendBase64(dst, st.readFixed(size)) }}, nil
	}
	return nil, fmt.Errorf("Avro type %s is not supported", sc.Type())
}

func primitive(s *avro.PrimitiveSchema, logical string) (*program, error) {
	switch s.Type() {
	case avro.Boolean:
		return &program{func(st *state, dst []byte) []byte { return strconv.AppendBool(dst, st.r.ReadBool()) }}, nil
	case avro.Int:
		if logical == "date" {
			return &program{func(st *state, dst []byte) []byte {
				d := time.Unix(int64(st.r.ReadInt())*86400, 0).UTC()
				return append(append(append(dst, '"'), d.Format(time.DateOnly)...), '"')
			}}, nil
		}
		return &program{func(st *state, dst []byte) []byte { return strconv.AppendInt(dst, int64(st.r.ReadInt()), 10) }}, nil
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
			return &program{func(st *state, dst []byte) []byte {
				t := unit(st.r.ReadLong()).UTC()
				return append(t.AppendFormat(append(dst, '"'), time.RFC3339Nano), '"')
			}}, nil
		}
		return &program{func(st *state, dst []byte) []byte { return strconv.AppendInt(dst, st.r.ReadLong(), 10) }}, nil
	case avro.Float:
		return &program{func(st *state, dst []byte) []byte { return appendFloat(st.r, dst, float64(st.r.ReadFloat()), 32) }}, nil
	case avro.Double:
		return &program{func(st *state, dst []byte) []byte { return appendFloat(st.r, dst, st.r.ReadDouble(), 64) }}, nil
	case avro.String:
		return &program{func(st *state, dst []byte) []byte { return schema.AppendJSONStringRaw(dst, st.r.ReadString()) }}, nil
	case avro.Bytes:
		if logical == "decimal" {
			scale := s.Logical().(*avro.DecimalLogicalSchema).Scale()
			return &program{func(st *state, dst []byte) []byte { return appendDecimal(dst, st.r.ReadBytes(), scale) }}, nil
		}
		return &program{func(st *state, dst []byte) []byte { return appendBase64(dst, st.r.ReadBytes()) }}, nil
	}
	return nil, fmt.Errorf("Avro type %s is not supported", s.Type())
}

// blocks reads an array's or a map's blocks, calling item for each of its
// items (numbered from 0). A count past the value's item budget stops it
// with an error, as does any error of the reader: the budget is for the
// whole value, so that arrays of items of no width (null) nested in one
// another cannot multiply it.
func (st *state) blocks(what string, item func(n int)) {
	n := 0
	for st.r.Error == nil {
		count, _ := st.r.ReadBlockHeader()
		if count == 0 || st.r.Error != nil {
			return
		}
		if count < 0 || count > int64(st.items) {
			st.r.ReportError(what, fmt.Sprintf("a block of %d items in a value of %d bytes", count, st.size))
			return
		}
		st.items -= int(count)
		for range count {
			item(n)
			n++
			if st.r.Error != nil {
				return
			}
		}
	}
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
