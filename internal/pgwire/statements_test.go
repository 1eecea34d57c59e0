package pgwire

import (
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestSplit(t *testing.T) {
	f := func(q string, want ...string) {
		t.Helper()
		if got := split(q); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("split(%q) = %q, want %q", q, got, want)
		}
	}
	f("")
	f(" ; ;")
	f("-- just a comment")
	f("/* a */ ; -- b")
	f("SELECT 1", "SELECT 1")
	f("SELECT 1;", "SELECT 1")
	f("SELECT 1; SELECT 2", "SELECT 1", "SELECT 2")
	f("SELECT ';'; SELECT 2", "SELECT ';'", "SELECT 2")
	f("SELECT 'it''s;'; SELECT 2", "SELECT 'it''s;'", "SELECT 2")
	f(`SELECT ";" FROM t; SELECT 2`, `SELECT ";" FROM t`, "SELECT 2")
	f("SELECT 1 -- a; b\n; SELECT 2", "SELECT 1 -- a; b", "SELECT 2")
	f("SELECT /* ; */ 1; SELECT 2", "SELECT /* ; */ 1", "SELECT 2")
	f("SELECT $$a;b$$; SELECT 2", "SELECT $$a;b$$", "SELECT 2")
	f("SELECT $x$a;b$x$; SELECT 2", "SELECT $x$a;b$x$", "SELECT 2")
	f("SELECT $1; SELECT $2", "SELECT $1", "SELECT $2")
	f("SELECT 'unterminated; SELECT 2", "SELECT 'unterminated; SELECT 2")
	f("SELECT /* unterminated; SELECT 2", "SELECT /* unterminated; SELECT 2")
}

func TestTags(t *testing.T) {
	session := func(q, want string) {
		t.Helper()
		if got := sessionTag(q); got != want {
			t.Errorf("sessionTag(%q) = %q, want %q", q, got, want)
		}
	}
	session("SET search_path = public", "SET")
	session("  set extra_float_digits = 3", "SET")
	session("-- hi\nBEGIN", "BEGIN")
	session("START TRANSACTION READ ONLY", "BEGIN")
	session("commit", "COMMIT")
	session("ROLLBACK", "ROLLBACK")
	session("DISCARD ALL", "DISCARD ALL")
	session("SELECT 1", "")
	session("SHOW VIEWS", "")
	session("settings", "")

	cmd := func(q string, rows int, want string) {
		t.Helper()
		if got := commandTag(q, rows); got != want {
			t.Errorf("commandTag(%q) = %q, want %q", q, got, want)
		}
	}
	cmd("SELECT 1", 1, "SELECT 1")
	cmd("(SELECT 1) UNION ALL (SELECT 2)", 2, "SELECT 2")
	cmd("WITH a AS (SELECT 1) SELECT * FROM a", 1, "SELECT 1")
	cmd("/* c */ create materialized view v as select 1", 1, "CREATE MATERIALIZED VIEW")
	cmd("DROP MATERIALIZED VIEW v", 1, "DROP MATERIALIZED VIEW")
	cmd("SHOW VIEWS", 3, "SHOW")
	cmd("EXPLAIN SELECT 1", 2, "EXPLAIN")
	cmd("DESCRIBE clicks", 6, "SELECT 6")
}

func TestOIDs(t *testing.T) {
	f := func(duck string, want uint32) {
		t.Helper()
		if got := oidOf(duck); got != want {
			t.Errorf("oidOf(%q) = %d, want %d", duck, got, want)
		}
	}
	f("BOOLEAN", pgtype.BoolOID)
	f("TINYINT", pgtype.Int2OID)
	f("SMALLINT", pgtype.Int2OID)
	f("INTEGER", pgtype.Int4OID)
	f("BIGINT", pgtype.Int8OID)
	f("UBIGINT", pgtype.NumericOID)
	f("HUGEINT", pgtype.NumericOID)
	f("DECIMAL(18,3)", pgtype.NumericOID)
	f("DECIMAL", pgtype.NumericOID)
	f("FLOAT", pgtype.Float4OID)
	f("DOUBLE", pgtype.Float8OID)
	f("VARCHAR", pgtype.TextOID)
	f("DATE", pgtype.DateOID)
	f("TIMESTAMP", pgtype.TimestampOID)
	f("TIMESTAMP_NS", pgtype.TimestampOID)
	f("TIMESTAMPTZ", pgtype.TimestamptzOID)
	f("INTERVAL", pgtype.IntervalOID)
	f("UUID", pgtype.UUIDOID)
	f("BLOB", pgtype.ByteaOID)
	f("JSON", pgtype.JSONOID)
	f("INTEGER[]", pgtype.JSONOID)
	f("VARCHAR[3]", pgtype.JSONOID)
	f("STRUCT(a INTEGER)", pgtype.JSONOID)
	f("MAP(VARCHAR, INTEGER)", pgtype.JSONOID)
	f("LIST", pgtype.JSONOID)
	f("ENUM", pgtype.TextOID)
	f("TIMETZ", pgtype.TextOID)
	f("ANY", pgtype.TextOID)
}

// FuzzSplit: any query text splits without a panic into trimmed, non-empty
// pieces of the text, no more than it has semicolons plus one.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"SELECT 1; SELECT 2", "SELECT ';'", "SELECT $$;$$; x", "-- c\n;/* ; */", "SELECT $1;$a$", `"a;b";'c;d'`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		parts := split(q)
		if len(parts) > strings.Count(q, ";")+1 {
			t.Fatalf("%d parts from %d semicolons", len(parts), strings.Count(q, ";"))
		}
		for _, p := range parts {
			if p == "" || p != strings.TrimSpace(p) || !strings.Contains(q, p) {
				t.Fatalf("part %q of %q", p, q)
			}
		}
		sessionTag(q)
		commandTag(q, 1)
	})
}
