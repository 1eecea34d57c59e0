package pgwire

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/jackc/pgx/v5/pgtype"
)

// oidOf maps a DuckDB type name (serve.Result.Types) to the Postgres type a
// client sees. Types Postgres has no counterpart for are sent as text, or
// as json when they are nested (lists, structs, maps).
func oidOf(duck string) uint32 {
	t := strings.ToUpper(duck)
	switch {
	case strings.HasSuffix(t, "[]") || strings.HasSuffix(t, "]"):
		return pgtype.JSONOID
	case strings.HasPrefix(t, "DECIMAL"), strings.HasPrefix(t, "NUMERIC"):
		return pgtype.NumericOID
	case strings.HasPrefix(t, "STRUCT"), strings.HasPrefix(t, "MAP"), strings.HasPrefix(t, "UNION"):
		return pgtype.JSONOID
	}
	switch t {
	case "BOOLEAN":
		return pgtype.BoolOID
	case "TINYINT", "SMALLINT", "UTINYINT":
		return pgtype.Int2OID
	case "INTEGER", "USMALLINT":
		return pgtype.Int4OID
	case "BIGINT", "UINTEGER":
		return pgtype.Int8OID
	case "UBIGINT", "HUGEINT", "UHUGEINT", "BIGNUM":
		return pgtype.NumericOID
	case "FLOAT":
		return pgtype.Float4OID
	case "DOUBLE":
		return pgtype.Float8OID
	case "DATE":
		return pgtype.DateOID
	case "TIME":
		return pgtype.TimeOID
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS":
		return pgtype.TimestampOID
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return pgtype.TimestamptzOID
	case "INTERVAL":
		return pgtype.IntervalOID
	case "UUID":
		return pgtype.UUIDOID
	case "BLOB":
		return pgtype.ByteaOID
	case "JSON":
		return pgtype.JSONOID
	case "LIST", "ARRAY", "STRUCT", "MAP", "UNION":
		return pgtype.JSONOID
	}
	return pgtype.TextOID
}

// pgValue converts a value of a result row (DuckDB's Go value, or the JSON
// form of one) into what pgtype encodes for the column's type.
func pgValue(oid uint32, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch oid {
	case pgtype.TextOID:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		case time.Time:
			return x.Format("15:04:05.999999-07:00"), nil // TIMETZ
		}
		return fmt.Sprint(v), nil
	case pgtype.JSONOID:
		switch x := v.(type) {
		case string:
			if json.Valid([]byte(x)) {
				return x, nil
			}
		}
		b, err := json.Marshal(jsonable(v))
		if err != nil {
			return nil, fmt.Errorf("cannot encode a nested value as json: %w", err)
		}
		return string(b), nil
	case pgtype.NumericOID:
		switch x := v.(type) {
		case duckdb.Decimal:
			return pgtype.Numeric{Int: x.Value, Exp: -int32(x.Scale), Valid: true}, nil
		case *big.Int:
			return pgtype.Numeric{Int: x, Valid: true}, nil
		case uint64:
			return pgtype.Numeric{Int: new(big.Int).SetUint64(x), Valid: true}, nil
		case float64:
			return x, nil
		}
	case pgtype.TimeOID:
		if t, ok := v.(time.Time); ok {
			us := int64(t.Hour())*3600e6 + int64(t.Minute())*60e6 + int64(t.Second())*1e6 + int64(t.Nanosecond())/1e3
			return pgtype.Time{Microseconds: us, Valid: true}, nil
		}
	case pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.DateOID:
		switch x := v.(type) {
		case time.Time:
			return x.UTC(), nil
		case string: // a JSON-form result (SHOW VIEWS)
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return nil, fmt.Errorf("cannot read %q as a time: %w", x, err)
			}
			return t.UTC(), nil
		}
	case pgtype.IntervalOID:
		if x, ok := v.(duckdb.Interval); ok {
			return pgtype.Interval{Months: x.Months, Days: x.Days, Microseconds: x.Micros, Valid: true}, nil
		}
	case pgtype.UUIDOID:
		switch x := v.(type) {
		case duckdb.UUID:
			return pgtype.UUID{Bytes: x, Valid: true}, nil
		case *duckdb.UUID:
			return pgtype.UUID{Bytes: *x, Valid: true}, nil
		case []byte:
			if len(x) == 16 {
				return pgtype.UUID{Bytes: [16]byte(x), Valid: true}, nil
			}
		}
	case pgtype.Float8OID, pgtype.Float4OID:
		if s, ok := v.(string); ok { // JSON form of a non-finite float
			switch s {
			case "inf":
				return math.Inf(1), nil
			case "-inf":
				return math.Inf(-1), nil
			case "nan":
				return math.NaN(), nil
			}
		}
	}
	return v, nil
}

// jsonable turns DuckDB's nested values into what encoding/json encodes as
// Postgres clients expect json to read.
func jsonable(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = jsonable(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e)
		}
		return out
	case duckdb.Map:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = jsonable(e)
		}
		return out
	case duckdb.Decimal:
		return json.Number(x.String())
	case *big.Int:
		return json.Number(x.String())
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Sprint(x)
		}
	case duckdb.UUID:
		return x.String()
	case []byte:
		return string(x)
	}
	return v
}

// argValue converts a parameter decoded by pgtype into a value DuckDB binds.
func argValue(v any) any {
	switch x := v.(type) {
	case pgtype.Numeric:
		if !x.Valid {
			return nil
		}
		if x.NaN {
			return math.NaN()
		}
		if x.Exp >= 0 {
			n := new(big.Int).Mul(x.Int, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(x.Exp)), nil))
			if n.IsInt64() {
				return n.Int64()
			}
		}
		f, _ := x.Float64Value()
		return f.Float64
	case pgtype.Interval:
		if !x.Valid {
			return nil
		}
		return duckdb.Interval{Months: x.Months, Days: x.Days, Micros: x.Microseconds}
	case [16]byte:
		return duckdb.UUID(x)
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return v
}
