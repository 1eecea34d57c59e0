package table

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/weirhq/weir/internal/schema"
)

// Metrics are the tables' Prometheus metrics, labelled by table.
type Metrics struct {
	Rows          *prometheus.GaugeVec   // rows of the current version
	Loads         *prometheus.CounterVec // versions loaded (the first and each change)
	RefreshErrors *prometheus.CounterVec // refreshes that failed (the table kept its rows)
}

// NewMetrics registers the metrics with r.
func NewMetrics(r prometheus.Registerer) *Metrics {
	label := []string{"table"}
	m := &Metrics{
		Rows:          prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_table_rows", Help: "Rows of a reference table's current version."}, label),
		Loads:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_table_loads_total", Help: "Versions of a reference table loaded (the first load and each change)."}, label),
		RefreshErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_table_refresh_errors_total", Help: "Refreshes of a reference table that failed; it kept its last good rows."}, label),
	}
	r.MustRegister(m.Rows, m.Loads, m.RefreshErrors)
	return m
}

// fileSource reads a CSV or NDJSON file, every row checked against the
// schema: one bad row fails the load (the table keeps its last version).
type fileSource struct {
	path    string
	schema  *schema.Schema
	size    int64
	modTime time.Time
}

func (f *fileSource) columns(context.Context) ([]schema.Column, error) {
	return f.schema.Columns, nil
}

func (f *fileSource) changed() bool {
	st, err := os.Stat(f.path)
	return err != nil || st.Size() != f.size || !st.ModTime().Equal(f.modTime)
}

func (f *fileSource) load(context.Context) ([][]schema.Value, error) {
	st, err := os.Stat(f.path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", f.path, unwrapPath(err))
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", f.path, unwrapPath(err))
	}
	var rows [][]schema.Value
	if isCSV(f.path) {
		rows, err = readCSV(f.path, data, f.schema)
	} else {
		rows, err = readNDJSON(f.path, data, f.schema)
	}
	if err != nil {
		return nil, err
	}
	f.size, f.modTime = st.Size(), st.ModTime()
	return rows, nil
}

func isCSV(path string) bool {
	return strings.EqualFold(filepath.Ext(path), ".csv")
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readNDJSON decodes one JSON object per line through the schema's
// validating decoder.
func readNDJSON(path string, data []byte, sc *schema.Schema) ([][]schema.Value, error) {
	dec := schema.NewDecoder(sc, nil)
	var rows [][]schema.Value
	var buf []byte
	line := 0
	sc2 := bufio.NewScanner(bytes.NewReader(data))
	sc2.Buffer(nil, 16<<20)
	for sc2.Scan() {
		line++
		raw := bytes.TrimSpace(sc2.Bytes())
		if len(raw) == 0 {
			continue
		}
		row, err := decodeRow(dec, sc, buf[:0], raw)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		rows = append(rows, row)
	}
	if err := sc2.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", path, line+1, err)
	}
	return rows, nil
}

// decodeRow validates one JSON object and returns its values (which own
// their bytes).
func decodeRow(dec *schema.Decoder, sc *schema.Schema, buf, raw []byte) ([]schema.Value, error) {
	d, err := dec.Decode(buf, raw)
	if err != nil {
		return nil, err
	}
	// The row's strings alias its encoding: give the row a copy of its own.
	return schema.DecodeRow(sc.Columns, bytes.Clone(d.Row), nil)
}

// readCSV reads a header row naming schema columns, then one row per
// line; each row becomes a JSON object for the schema's decoder, so a CSV
// file is checked by the same rules as JSON. An empty cell is NULL.
func readCSV(path string, data []byte, sc *schema.Schema) ([][]schema.Value, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s is empty: it needs a header row naming the columns (%s)", path, strings.Join(sc.Names(), ","))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cols := make([]int, len(header))
	keys := make([][]byte, len(header))
	seen := map[int]bool{}
	for i, h := range header {
		c := sc.ColumnIndex(strings.TrimSpace(h))
		if c < 0 {
			return nil, fmt.Errorf("%s:1: column %q of the header is not in the table's schema (it has %s)", path, h, strings.Join(sc.Names(), ", "))
		}
		if seen[c] {
			return nil, fmt.Errorf("%s:1: column %q appears twice in the header", path, h)
		}
		seen[c] = true
		cols[i], keys[i] = c, schema.JSONKey(sc.Columns[c].Name)
	}
	for i, c := range sc.Columns {
		if c.Required && !seen[i] {
			return nil, fmt.Errorf("%s:1: the header lacks the required column %q", path, c.Name)
		}
	}
	dec := schema.NewDecoder(sc, nil)
	var rows [][]schema.Value
	var obj, buf []byte
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("%s:%d: %d fields, the header has %d", path, line, len(rec), len(header))
		}
		// The same JSON the inbox makes of a CSV row: the same rules.
		obj = schema.AppendCSVObject(obj[:0], sc, cols, keys, rec)
		row, err := decodeRow(dec, sc, buf[:0], obj)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		rows = append(rows, row)
	}
}

// pgSource runs a query on PostgreSQL.
type pgSource struct {
	dsn, query string
	cols       []schema.Column
}

func (p *pgSource) changed() bool { return true }

// pgTimeout bounds one load from PostgreSQL, connection included.
const pgTimeout = 2 * time.Minute

// run runs q and hands its rows to fn.
func (p *pgSource) run(ctx context.Context, q string, fn func(pgx.Rows) error) error {
	// A load that hangs must not stop the refreshes for good.
	cctx, cancel := context.WithTimeout(ctx, pgTimeout)
	defer cancel()
	conn, err := pgx.Connect(cctx, p.dsn)
	if err != nil {
		return fmt.Errorf("cannot connect to PostgreSQL: %w (check the dsn and that the server is up)", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(cctx, q)
	if err != nil {
		return fmt.Errorf("query %q: %w", p.query, err)
	}
	defer rows.Close()
	if err := fn(rows); err != nil {
		return fmt.Errorf("query %q: %w", p.query, err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query %q: %w", p.query, err)
	}
	return nil
}

func (p *pgSource) columns(ctx context.Context) ([]schema.Column, error) {
	// The columns without the rows: the query as a subquery, no row of it.
	q := "SELECT * FROM (" + strings.TrimRight(strings.TrimSpace(p.query), ";") + ") AS weir_columns LIMIT 0"
	err := p.run(ctx, q, func(rows pgx.Rows) error {
		for _, fd := range rows.FieldDescriptions() {
			typ, ok := pgTypes[fd.DataTypeOID]
			if !ok {
				return fmt.Errorf("column %q has a PostgreSQL type Weir does not read (OID %d); cast it in the query, e.g. %s::text",
					fd.Name, fd.DataTypeOID, fd.Name)
			}
			p.cols = append(p.cols, schema.Column{Name: fd.Name, Type: typ, Nullable: true})
		}
		return nil
	})
	return p.cols, err
}

// pgTypes maps the PostgreSQL types a table reads to Weir's.
var pgTypes = map[uint32]schema.Type{
	pgtype.Int2OID: schema.Int64, pgtype.Int4OID: schema.Int64, pgtype.Int8OID: schema.Int64, pgtype.OIDOID: schema.Int64,
	pgtype.Float4OID: schema.Float64, pgtype.Float8OID: schema.Float64, pgtype.NumericOID: schema.Float64,
	pgtype.BoolOID: schema.Bool,
	pgtype.TextOID: schema.String, pgtype.VarcharOID: schema.String, pgtype.BPCharOID: schema.String, pgtype.NameOID: schema.String,
	pgtype.TimestampOID: schema.Timestamp, pgtype.TimestamptzOID: schema.Timestamp, pgtype.DateOID: schema.Timestamp,
}

func (p *pgSource) load(ctx context.Context) ([][]schema.Value, error) {
	var out [][]schema.Value
	err := p.run(ctx, p.query, func(rows pgx.Rows) error {
		if fds := rows.FieldDescriptions(); len(fds) != len(p.cols) {
			return fmt.Errorf("it now returns %d columns, it had %d when the node started; restart the node to take the new columns", len(fds), len(p.cols))
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			row := make([]schema.Value, len(vals))
			for i, v := range vals {
				if row[i], err = convert(p.cols[i], v); err != nil {
					return fmt.Errorf("row %d: %w", len(out)+1, err)
				}
			}
			out = append(out, row)
		}
		return nil
	})
	return out, err
}

// convert turns a database value (pgx's or DuckDB's Go types) into the
// column's type.
func convert(c schema.Column, v any) (schema.Value, error) {
	if v == nil {
		return schema.Value{Null: true}, nil
	}
	bad := func() (schema.Value, error) {
		return schema.Value{}, fmt.Errorf("column %q: cannot read %T as %s", c.Name, v, c.Type)
	}
	switch c.Type {
	case schema.Int64:
		switch x := v.(type) {
		case int64:
			return schema.Value{Int: x}, nil
		case int32:
			return schema.Value{Int: int64(x)}, nil
		case int16:
			return schema.Value{Int: int64(x)}, nil
		case int8:
			return schema.Value{Int: int64(x)}, nil
		case uint32:
			return schema.Value{Int: int64(x)}, nil
		}
	case schema.Float64:
		switch x := v.(type) {
		case float64:
			return schema.Value{Float: x}, nil
		case int64:
			return schema.Value{Float: float64(x)}, nil
		case float32:
			return schema.Value{Float: float64(x)}, nil
		case pgtype.Numeric:
			f, err := x.Float64Value()
			if err != nil || !f.Valid {
				return schema.Value{Null: true}, err
			}
			return schema.Value{Float: f.Float64}, nil
		}
	case schema.Bool:
		if x, ok := v.(bool); ok {
			return schema.Value{Int: b2i(x)}, nil
		}
	case schema.String:
		if x, ok := v.(string); ok {
			return schema.Value{Bytes: []byte(x)}, nil
		}
	case schema.Timestamp:
		switch x := v.(type) {
		case time.Time:
			return schema.Value{Int: x.UnixMicro()}, nil
		case string: // the node's query engine gives RFC 3339
			if ts, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return schema.Value{Int: ts.UnixMicro()}, nil
			}
		}
	}
	return bad()
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// lakeSource runs a query over the node's own tables.
type lakeSource struct {
	query string
	run   func(ctx context.Context, sql string) (cols, types []string, rows [][]any, err error)
	cols  []schema.Column
}

func (l *lakeSource) changed() bool { return true }

// duckTypes maps the DuckDB result types a table reads to Weir's.
var duckTypes = map[string]schema.Type{
	"BIGINT": schema.Int64, "INTEGER": schema.Int64, "SMALLINT": schema.Int64, "TINYINT": schema.Int64,
	"UBIGINT": schema.Int64, "UINTEGER": schema.Int64, "USMALLINT": schema.Int64, "UTINYINT": schema.Int64,
	"DOUBLE": schema.Float64, "FLOAT": schema.Float64, "REAL": schema.Float64,
	"BOOLEAN": schema.Bool, "VARCHAR": schema.String,
	"TIMESTAMP": schema.Timestamp, "TIMESTAMP WITH TIME ZONE": schema.Timestamp, "TIMESTAMPTZ": schema.Timestamp, "DATE": schema.Timestamp,
}

func (l *lakeSource) columns(ctx context.Context) ([]schema.Column, error) {
	cols, types, _, err := l.run(ctx, "SELECT * FROM ("+strings.TrimRight(strings.TrimSpace(l.query), ";")+") AS weir_columns LIMIT 0")
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", l.query, err)
	}
	for i, name := range cols {
		typ, ok := duckTypes[strings.ToUpper(types[i])]
		if !ok && strings.HasPrefix(strings.ToUpper(types[i]), "DECIMAL") {
			typ, ok = schema.Float64, true
		}
		if !ok {
			return nil, fmt.Errorf("query %q: column %q has type %s, which a table does not take; CAST it in the query", l.query, name, types[i])
		}
		l.cols = append(l.cols, schema.Column{Name: name, Type: typ, Nullable: true})
	}
	return l.cols, nil
}

func (l *lakeSource) load(ctx context.Context) ([][]schema.Value, error) {
	_, _, rows, err := l.run(ctx, l.query)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", l.query, err)
	}
	out := make([][]schema.Value, 0, len(rows))
	for n, r := range rows {
		if len(r) != len(l.cols) {
			return nil, fmt.Errorf("query %q: it now returns %d columns, it had %d when the node started; restart the node", l.query, len(r), len(l.cols))
		}
		row := make([]schema.Value, len(r))
		for i, v := range r {
			var err error
			if f, ok := v.(float64); ok && l.cols[i].Type == schema.Int64 && f == math.Trunc(f) {
				v = int64(f)
			}
			if row[i], err = convert(l.cols[i], v); err != nil {
				return nil, fmt.Errorf("query %q: row %d: %w", l.query, n+1, err)
			}
		}
		out = append(out, row)
	}
	return out, nil
}
