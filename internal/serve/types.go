package serve

import (
	"fmt"

	"github.com/duckdb/duckdb-go/v2"
)

// typeNames are DuckDB's names of its types, as database/sql reports them
// in a result (Result.Types).
var typeNames = map[duckdb.Type]string{
	duckdb.TYPE_BOOLEAN:      "BOOLEAN",
	duckdb.TYPE_TINYINT:      "TINYINT",
	duckdb.TYPE_SMALLINT:     "SMALLINT",
	duckdb.TYPE_INTEGER:      "INTEGER",
	duckdb.TYPE_BIGINT:       "BIGINT",
	duckdb.TYPE_UTINYINT:     "UTINYINT",
	duckdb.TYPE_USMALLINT:    "USMALLINT",
	duckdb.TYPE_UINTEGER:     "UINTEGER",
	duckdb.TYPE_UBIGINT:      "UBIGINT",
	duckdb.TYPE_FLOAT:        "FLOAT",
	duckdb.TYPE_DOUBLE:       "DOUBLE",
	duckdb.TYPE_TIMESTAMP:    "TIMESTAMP",
	duckdb.TYPE_DATE:         "DATE",
	duckdb.TYPE_TIME:         "TIME",
	duckdb.TYPE_INTERVAL:     "INTERVAL",
	duckdb.TYPE_HUGEINT:      "HUGEINT",
	duckdb.TYPE_UHUGEINT:     "UHUGEINT",
	duckdb.TYPE_VARCHAR:      "VARCHAR",
	duckdb.TYPE_BLOB:         "BLOB",
	duckdb.TYPE_DECIMAL:      "DECIMAL",
	duckdb.TYPE_TIMESTAMP_S:  "TIMESTAMP_S",
	duckdb.TYPE_TIMESTAMP_MS: "TIMESTAMP_MS",
	duckdb.TYPE_TIMESTAMP_NS: "TIMESTAMP_NS",
	duckdb.TYPE_ENUM:         "ENUM",
	duckdb.TYPE_LIST:         "LIST",
	duckdb.TYPE_STRUCT:       "STRUCT",
	duckdb.TYPE_MAP:          "MAP",
	duckdb.TYPE_ARRAY:        "ARRAY",
	duckdb.TYPE_UUID:         "UUID",
	duckdb.TYPE_UNION:        "UNION",
	duckdb.TYPE_BIT:          "BIT",
	duckdb.TYPE_TIME_TZ:      "TIMETZ",
	duckdb.TYPE_TIMESTAMP_TZ: "TIMESTAMPTZ",
	duckdb.TYPE_ANY:          "ANY",
	duckdb.TYPE_BIGNUM:       "BIGNUM",
	duckdb.TYPE_SQLNULL:      "SQLNULL",
	duckdb.TYPE_INVALID:      "ANY", // a parameter whose type DuckDB leaves open
}

func typeName(t duckdb.Type) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "UNKNOWN"
}

// typeInfoName names a type as a result does: DECIMAL with its width and
// scale, a list as its element type followed by [].
func typeInfoName(info duckdb.TypeInfo) string {
	switch d := info.Details().(type) {
	case *duckdb.DecimalDetails:
		return fmt.Sprintf("DECIMAL(%d,%d)", d.Width, d.Scale)
	case *duckdb.ListDetails:
		return typeInfoName(d.Child) + "[]"
	}
	return typeName(info.InternalType())
}
