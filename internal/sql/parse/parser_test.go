package parse

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// dump renders a statement deterministically for the tests. Expressions
// use FormatExpr; joins are fully parenthesised; intervals in streaming
// clauses and TVFs are shown as exact microseconds.
func dump(s Statement) string {
	switch s := s.(type) {
	case *Select:
		return dumpSelect(s)
	case *CreateView:
		var b strings.Builder
		b.WriteString("CREATE ")
		if s.OrReplace {
			b.WriteString("OR REPLACE ")
		}
		b.WriteString("MATERIALIZED VIEW ")
		if s.IfNotExists {
			b.WriteString("IF NOT EXISTS ")
		}
		b.WriteString(s.Name + " AS " + dumpSelect(s.Query))
		if s.AllowedLateness != nil {
			b.WriteString(" ALLOWED LATENESS " + us(s.AllowedLateness))
		}
		if s.EmitEvery != nil {
			b.WriteString(" EMIT EVERY " + us(s.EmitEvery))
		}
		switch s.Late {
		case LateDrop:
			b.WriteString(" LATE DATA DROP")
		case LateSideOutput:
			b.WriteString(" LATE DATA SIDE OUTPUT")
		case LateUpdate:
			b.WriteString(" LATE DATA UPDATE")
		}
		if s.LateFor != nil {
			b.WriteString(" FOR " + us(s.LateFor))
		}
		if s.Parallelism > 0 {
			fmt.Fprintf(&b, " PARALLELISM %d", s.Parallelism)
		}
		return b.String()
	case *DropView:
		if s.IfExists {
			return "DROP MATERIALIZED VIEW IF EXISTS " + s.Name
		}
		return "DROP MATERIALIZED VIEW " + s.Name
	case *ShowViews:
		return "SHOW VIEWS"
	case *ShowTables:
		return "SHOW TABLES"
	case *Explain:
		return "EXPLAIN " + dump(s.Stmt)
	}
	return fmt.Sprintf("<%T>", s)
}

func us(iv *Interval) string { return fmt.Sprintf("%dus", iv.Micros) }

func dumpSelect(s *Select) string {
	var b strings.Builder
	for i, c := range s.With {
		if i == 0 {
			b.WriteString("WITH ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(c.Name + " AS (" + dumpSelect(c.Query) + ")")
	}
	if len(s.With) > 0 {
		b.WriteString(" ")
	}
	b.WriteString("SELECT ")
	if s.Distinct {
		b.WriteString("DISTINCT ")
	}
	for i, it := range s.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		switch {
		case it.Star && it.StarTable != "":
			b.WriteString(it.StarTable + ".*")
		case it.Star:
			b.WriteString("*")
		default:
			b.WriteString(FormatExpr(it.Expr))
		}
		if it.Alias != "" {
			b.WriteString(" AS " + it.Alias)
		}
	}
	if s.From != nil {
		b.WriteString(" FROM " + dumpFrom(s.From))
	}
	if s.Where != nil {
		b.WriteString(" WHERE " + FormatExpr(s.Where))
	}
	if len(s.GroupBy) > 0 {
		b.WriteString(" GROUP BY ")
		for i, e := range s.GroupBy {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(FormatExpr(e))
		}
	}
	if s.Having != nil {
		b.WriteString(" HAVING " + FormatExpr(s.Having))
	}
	if len(s.OrderBy) > 0 {
		b.WriteString(" ORDER BY ")
		for i, o := range s.OrderBy {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(FormatExpr(o.Expr))
			if o.Desc {
				b.WriteString(" DESC")
			}
		}
	}
	if s.Limit != nil {
		b.WriteString(" LIMIT " + FormatExpr(s.Limit))
	}
	return b.String()
}

func dumpFrom(f From) string {
	alias := func(a string) string {
		if a == "" {
			return ""
		}
		return " AS " + a
	}
	switch f := f.(type) {
	case *TableRef:
		return f.Name + alias(f.Alias)
	case *Subquery:
		return "(" + dumpSelect(f.Query) + ")" + alias(f.Alias)
	case *WindowTVF:
		var b strings.Builder
		b.WriteString(f.Kind + "(TABLE " + f.Table)
		if len(f.PartitionBy) > 0 {
			b.WriteString(" PARTITION BY " + strings.Join(f.PartitionBy, ", "))
		}
		b.WriteString(", DESCRIPTOR(" + f.TimeCol + ")")
		for _, a := range f.Args {
			b.WriteString(", " + us(a))
		}
		b.WriteString(")" + alias(f.Alias))
		return b.String()
	case *Join:
		s := "(" + dumpFrom(f.Left) + " " + f.Kind + " JOIN " + dumpFrom(f.Right)
		if f.On != nil {
			s += " ON " + FormatExpr(f.On)
		}
		return s + ")"
	}
	return fmt.Sprintf("<%T>", f)
}

func TestParseExprPrecedence(t *testing.T) {
	f := func(src, want string) {
		t.Helper()
		e, err := ParseExpr(src)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", src, err)
			return
		}
		if got := FormatExpr(e); got != want {
			t.Errorf("ParseExpr(%q)\n got %s\nwant %s", src, got, want)
		}
	}
	f("a + b * c", "(a + (b * c))")
	f("a * b + c", "((a * b) + c)")
	f("a - b - c", "((a - b) - c)")
	f("a / b % c", "((a / b) % c)")
	f("(a + b) * c", "((a + b) * c)")
	f("NOT a = b AND c", "((NOT (a = b)) AND c)")
	f("NOT NOT a", "(NOT (NOT a))")
	f("a OR b AND c", "(a OR (b AND c))")
	f("a AND b OR c AND d", "((a AND b) OR (c AND d))")
	f("-a::int", "(-CAST(a AS INT))")
	f("- -a", "(-(-a))")
	f("+a * -b", "((+a) * (-b))")
	f("a || b || c", "((a || b) || c)")
	f("a || b = c || d", "((a || b) = (c || d))")
	f("a + b || c", "((a + b) || c)")
	f("x BETWEEN 1 AND 2 AND y", "((x BETWEEN 1 AND 2) AND y)")
	f("x NOT BETWEEN a + 1 AND b * 2", "(x NOT BETWEEN (a + 1) AND (b * 2))")
	f("a = 1 OR b <> 2", "((a = 1) OR (b <> 2))")
	f("a != b", "(a <> b)")
	f("a < b AND a <= b AND a > b AND a >= b", "((((a < b) AND (a <= b)) AND (a > b)) AND (a >= b))")
	f("a IS NULL", "(a IS NULL)")
	f("a + 1 IS NOT NULL AND b", "(((a + 1) IS NOT NULL) AND b)")
	f("NOT a IS NULL", "(NOT (a IS NULL))")
	f("name LIKE 'a%' OR name NOT ILIKE '%b'", "((name LIKE 'a%') OR (name NOT ILIKE '%b'))")
	f("x IN (1, 2, 3)", "(x IN (1, 2, 3))")
	f("x + 1 NOT IN (a, b || c)", "((x + 1) NOT IN (a, (b || c)))")
	f("x::text || 'a'", "(CAST(x AS TEXT) || 'a')")
	f("x::int::bigint", "CAST(CAST(x AS INT) AS BIGINT)")
	f("CAST(x AS DECIMAL(10, 2))", "CAST(x AS DECIMAL(10,2))")
	f("TRY_CAST(x AS double precision)", "TRY_CAST(x AS DOUBLE PRECISION)")
	f("CAST(ts AS timestamp with time zone)", "CAST(ts AS TIMESTAMP WITH TIME ZONE)")
	f("x::varchar", "CAST(x AS VARCHAR)")
	f("'1 hour'::interval", "CAST('1 hour' AS INTERVAL)")
	f("CAST(ts AS TIMESTAMP(3) WITHOUT TIME ZONE)", "CAST(ts AS TIMESTAMP(3) WITHOUT TIME ZONE)")
	f("TIMESTAMP '2026-01-01 00:00:00'", "CAST('2026-01-01 00:00:00' AS TIMESTAMP)")
	f("ts >= timestamp '2026-01-01'", "(ts >= CAST('2026-01-01' AS TIMESTAMP))")
	f("EXTRACT(HOUR FROM ts)", "EXTRACT(hour FROM ts)")
	f("extract(epoch from a - b)", "EXTRACT(epoch FROM (a - b))")
	f("CASE WHEN a THEN 1 WHEN b THEN 2 ELSE 3 END", "CASE WHEN a THEN 1 WHEN b THEN 2 ELSE 3 END")
	f("CASE x WHEN 1 THEN 'one' END", "CASE x WHEN 1 THEN 'one' END")
	f("case when a > 1 then case when b then 1 end end", "CASE WHEN (a > 1) THEN CASE WHEN b THEN 1 END END")
	f("count(*)", "count(*)")
	f("COUNT(DISTINCT user_id)", "count(DISTINCT user_id)")
	f("sum(ALL x)", "sum(x)")
	f("now()", "now()")
	f("coalesce(a, b, 0)", "coalesce(a, b, 0)")
	f("left(s, 3) || right(s, 2)", "(left(s, 3) || right(s, 2))")
	f("row_number() OVER (PARTITION BY a, b ORDER BY ts DESC, id ASC)", "row_number() OVER (PARTITION BY a, b ORDER BY ts DESC, id)")
	f("rank() over ()", "rank() OVER ()")
	f("sum(x) OVER (ORDER BY ts)", "sum(x) OVER (ORDER BY ts)")
	f("t.col", "t.col")
	f("T.Col", "t.col")
	f(`"T"."Col"`, `"T"."Col"`)
	f(`"say ""hi"""`, `"say ""hi"""`)
	f(`"select" + 1`, `("select" + 1)`)
	f(`t."from"`, `t."from"`)
	f("'it''s'", "'it''s'")
	f("''", "''")
	f("TRUE AND FALSE OR NULL", "((TRUE AND FALSE) OR NULL)")
	f("1.5e3 + .5 - 1E-3 + 42", "(((1.5e3 + .5) - 1E-3) + 42)")
	f("a$b_1", "a$b_1")
	f("a /* comment */ + -- line comment\n b", "(a + b)")
	f("INTERVAL '1' MINUTE + ts", "(INTERVAL '1' MINUTE + ts)")
}

func TestParseStatements(t *testing.T) {
	f := func(src, want string) {
		t.Helper()
		st, err := Parse(src)
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			return
		}
		if got := dump(st); got != want {
			t.Errorf("Parse(%q)\n got %s\nwant %s", src, got, want)
		}
	}
	// SELECT
	f("SELECT 1+1", "SELECT (1 + 1)")
	f("select 1;", "SELECT 1")
	f("select 1;;", "SELECT 1")
	f("SELECT * FROM clicks", "SELECT * FROM clicks")
	f("SELECT c.*, u.name FROM clicks c JOIN users u ON c.uid = u.id",
		"SELECT c.*, u.name FROM (clicks AS c INNER JOIN users AS u ON (c.uid = u.id))")
	f("SELECT DISTINCT a, b AS bee, c cee, d \"Dee\" FROM t AS x",
		"SELECT DISTINCT a, b AS bee, c AS cee, d AS Dee FROM t AS x")
	f("SELECT ALL a FROM t", "SELECT a FROM t")
	f("SELECT a FROM t WHERE a > 1 GROUP BY a, b HAVING count(*) > 2 ORDER BY a DESC, b ASC, c LIMIT 10",
		"SELECT a FROM t WHERE (a > 1) GROUP BY a, b HAVING (count(*) > 2) ORDER BY a DESC, b, c LIMIT 10")
	f("SELECT Count(*) AS N FROM T", "SELECT count(*) AS n FROM t")
	f(`SELECT "Count" FROM "MyTable" "M"`, `SELECT "Count" FROM MyTable AS M`)
	f("SELECT a FROM t1 LEFT JOIN t2 ON t1.k = t2.k RIGHT OUTER JOIN t3 ON t3.k = t2.k",
		"SELECT a FROM ((t1 LEFT JOIN t2 ON (t1.k = t2.k)) RIGHT JOIN t3 ON (t3.k = t2.k))")
	f("SELECT a FROM t1 FULL OUTER JOIN t2 ON TRUE CROSS JOIN t3 INNER JOIN t4 ON x",
		"SELECT a FROM (((t1 FULL JOIN t2 ON TRUE) CROSS JOIN t3) INNER JOIN t4 ON x)")
	f("SELECT a FROM t1 LEFT OUTER JOIN t2 ON a = b", "SELECT a FROM (t1 LEFT JOIN t2 ON (a = b))")
	f("SELECT a FROM t1, t2, t3", "SELECT a FROM ((t1 CROSS JOIN t2) CROSS JOIN t3)")
	f("SELECT a FROM t1, t2 JOIN t3 ON b", "SELECT a FROM (t1 CROSS JOIN (t2 INNER JOIN t3 ON b))")
	f("SELECT s.n FROM (SELECT count(*) AS n FROM t) AS s", "SELECT s.n FROM (SELECT count(*) AS n FROM t) AS s")
	f("SELECT * FROM (SELECT a FROM (SELECT 1 AS a) x) y", "SELECT * FROM (SELECT a FROM (SELECT 1 AS a) AS x) AS y")
	f("SELECT window_start, count(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end",
		"SELECT window_start, count(*) FROM TUMBLE(TABLE clicks, DESCRIPTOR(ts), 60000000us) GROUP BY window_start, window_end")
	// Window TVFs.
	f("SELECT * FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '10' SECOND)) AS w",
		"SELECT * FROM TUMBLE(TABLE s, DESCRIPTOR(ts), 10000000us) AS w")
	f("select * from table(tumble(table s, descriptor(ts), interval 5 minutes)) w",
		"SELECT * FROM TUMBLE(TABLE s, DESCRIPTOR(ts), 300000000us) AS w")
	f("SELECT * FROM TABLE(HOP(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))",
		"SELECT * FROM HOP(TABLE s, DESCRIPTOR(ts), 60000000us, 300000000us)")
	f("SELECT * FROM TABLE(CUMULATE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' HOUR, INTERVAL '1' DAY)) c",
		"SELECT * FROM CUMULATE(TABLE s, DESCRIPTOR(ts), 3600000000us, 86400000000us) AS c")
	f("SELECT * FROM TABLE(SESSION(TABLE s, DESCRIPTOR(ts), INTERVAL '30' SECOND))",
		"SELECT * FROM SESSION(TABLE s, DESCRIPTOR(ts), 30000000us)")
	f("SELECT * FROM TABLE(SESSION(TABLE s PARTITION BY user_id, \"Region\", DESCRIPTOR(ts), INTERVAL '30' SECOND))",
		"SELECT * FROM SESSION(TABLE s PARTITION BY user_id, Region, DESCRIPTOR(ts), 30000000us)")
	f("SELECT * FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) w JOIN dims d ON w.k = d.k",
		"SELECT * FROM (TUMBLE(TABLE s, DESCRIPTOR(ts), 60000000us) AS w INNER JOIN dims AS d ON (w.k = d.k))")
	// Names that are keywords elsewhere but not reserved.
	f("SELECT data, output, minute, second, offset, partition, timestamp, date FROM views",
		"SELECT data, output, minute, second, offset, partition, timestamp, date FROM views")
	f(`SELECT "select", "Offset" FROM t`, `SELECT "select", "Offset" FROM t`)

	// CREATE MATERIALIZED VIEW and its streaming clauses.
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t",
		"CREATE MATERIALIZED VIEW v AS SELECT a FROM t")
	f("create or replace materialized view V as select a from t;",
		"CREATE OR REPLACE MATERIALIZED VIEW v AS SELECT a FROM t")
	f("CREATE MATERIALIZED VIEW IF NOT EXISTS \"Per Minute\" AS SELECT 1",
		"CREATE MATERIALIZED VIEW IF NOT EXISTS Per Minute AS SELECT 1")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t ALLOWED LATENESS INTERVAL '10' SECOND",
		"CREATE MATERIALIZED VIEW v AS SELECT a FROM t ALLOWED LATENESS 10000000us")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t WHERE a > 1 EMIT EVERY INTERVAL '1' SECOND ALLOWED LATENESS INTERVAL '1 minute' LATE DATA DROP",
		"CREATE MATERIALIZED VIEW v AS SELECT a FROM t WHERE (a > 1) ALLOWED LATENESS 60000000us EMIT EVERY 1000000us LATE DATA DROP")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA SIDE OUTPUT",
		"CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA SIDE OUTPUT")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA UPDATE",
		"CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA UPDATE")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t late data update for interval '1' hour emit every interval '500' millisecond",
		"CREATE MATERIALIZED VIEW v AS SELECT a FROM t EMIT EVERY 500000us LATE DATA UPDATE FOR 3600000000us")
	f("CREATE MATERIALIZED VIEW v AS SELECT window_start, count(*) FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start ALLOWED LATENESS INTERVAL '5' SECOND",
		"CREATE MATERIALIZED VIEW v AS SELECT window_start, count(*) FROM TUMBLE(TABLE s, DESCRIPTOR(ts), 60000000us) GROUP BY window_start ALLOWED LATENESS 5000000us")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t ORDER BY a LIMIT 5 EMIT EVERY INTERVAL '1' SECOND",
		"CREATE MATERIALIZED VIEW v AS SELECT a FROM t ORDER BY a LIMIT 5 EMIT EVERY 1000000us")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t PARALLELISM 4 LATE DATA DROP",
		"CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA DROP PARALLELISM 4")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t x LATE DATA DROP",
		"CREATE MATERIALIZED VIEW v AS SELECT a FROM t AS x LATE DATA DROP")
	// ALLOWED, EMIT and LATE end the query: they are never implicit aliases.
	f("CREATE MATERIALIZED VIEW v AS SELECT a EMIT EVERY INTERVAL '1' SECOND",
		"CREATE MATERIALIZED VIEW v AS SELECT a EMIT EVERY 1000000us")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA DROP",
		"CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA DROP")
	f("CREATE MATERIALIZED VIEW v AS SELECT * FROM TABLE(HOP(TABLE s, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '1' MINUTE)) ALLOWED LATENESS INTERVAL '2' SECOND",
		"CREATE MATERIALIZED VIEW v AS SELECT * FROM HOP(TABLE s, DESCRIPTOR(ts), 1000000us, 60000000us) ALLOWED LATENESS 2000000us")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t WHERE ts > INTERVAL '1' MINUTE EMIT EVERY INTERVAL '1' MINUTE",
		"CREATE MATERIALIZED VIEW v AS SELECT a FROM t WHERE (ts > INTERVAL '1' MINUTE) EMIT EVERY 60000000us")

	// WITH.
	f("WITH a AS (SELECT x FROM t), b AS (SELECT x FROM a WHERE x > 1) SELECT * FROM b",
		"WITH a AS (SELECT x FROM t), b AS (SELECT x FROM a WHERE (x > 1)) SELECT * FROM b")
	f("CREATE MATERIALIZED VIEW v AS WITH a AS (SELECT x FROM t) SELECT x FROM a EMIT EVERY INTERVAL '1' SECOND",
		"CREATE MATERIALIZED VIEW v AS WITH a AS (SELECT x FROM t) SELECT x FROM a EMIT EVERY 1000000us")
	f("EXPLAIN WITH a AS (SELECT x FROM t) SELECT x FROM a", "EXPLAIN WITH a AS (SELECT x FROM t) SELECT x FROM a")

	// DROP, SHOW, EXPLAIN.
	f("DROP MATERIALIZED VIEW v", "DROP MATERIALIZED VIEW v")
	f("drop materialized view if exists \"V\";", "DROP MATERIALIZED VIEW IF EXISTS V")
	f("DROP MATERIALIZED VIEW if", "DROP MATERIALIZED VIEW if")
	f("SHOW VIEWS", "SHOW VIEWS")
	f("show materialized views;", "SHOW VIEWS")
	f("SHOW TABLES", "SHOW TABLES")
	f("EXPLAIN SELECT a FROM t", "EXPLAIN SELECT a FROM t")
	f("EXPLAIN CREATE MATERIALIZED VIEW v AS SELECT a FROM t EMIT EVERY INTERVAL '2' SECOND",
		"EXPLAIN CREATE MATERIALIZED VIEW v AS SELECT a FROM t EMIT EVERY 2000000us")
}

func TestIntervals(t *testing.T) {
	f := func(src string, want int64) {
		t.Helper()
		e, err := ParseExpr(src)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", src, err)
			return
		}
		iv, ok := e.(*Interval)
		if !ok {
			t.Errorf("ParseExpr(%q) = %T, want *Interval", src, e)
			return
		}
		if iv.Micros != want {
			t.Errorf("ParseExpr(%q).Micros = %d, want %d", src, iv.Micros, want)
		}
		if iv.Text != src {
			t.Errorf("ParseExpr(%q).Text = %q", src, iv.Text)
		}
	}
	f("INTERVAL '1' MINUTE", 60_000_000)
	f("INTERVAL '90' SECOND", 90_000_000)
	f("INTERVAL '1.5' SECOND", 1_500_000)
	f("INTERVAL '1 minute'", 60_000_000)
	f("INTERVAL '2 hours'", 7_200_000_000)
	f("INTERVAL 5 MINUTE", 300_000_000)
	f("INTERVAL '10' MILLISECOND", 10_000)
	f("INTERVAL '10' milliseconds", 10_000)
	f("interval '3' Days", 259_200_000_000)
	f("INTERVAL '1' HOUR", 3_600_000_000)
	f("INTERVAL '1 hour 30 minutes'", 5_400_000_000)
	f("INTERVAL ' 2 Seconds '", 2_000_000)
	f("INTERVAL '0.001' MILLISECOND", 1)
	f("INTERVAL '.25' SECOND", 250_000)
	f("INTERVAL '1.5 seconds'", 1_500_000)
	f("INTERVAL '0' SECOND", 0)
	f("INTERVAL '0e99999' SECOND", 0)
	f("INTERVAL '2.5e3' MILLISECOND", 2_500_000)
	f("INTERVAL '-1' MINUTE", -60_000_000)
	f("INTERVAL -2 SECOND", -2_000_000)
	f("INTERVAL 1.5 HOUR", 5_400_000_000)
	f("INTERVAL 1e3 MILLISECOND", 1_000_000)
	f("INTERVAL '106751991' DAY", 106_751_991*86_400_000_000)
	f("INTERVAL '-9223372036854.775808' SECOND", -9223372036854775808)
}

func TestErrors(t *testing.T) {
	f := func(src, want string) {
		t.Helper()
		_, err := Parse(src)
		if err == nil {
			t.Errorf("Parse(%q): no error, want %s", src, want)
			return
		}
		var perr *Error
		if !errors.As(err, &perr) {
			t.Errorf("Parse(%q): error %T is not *Error", src, err)
		}
		if got := err.Error(); got != want {
			t.Errorf("Parse(%q)\n got %s\nwant %s", src, got, want)
		}
	}
	// Window TVFs.
	f("SELECT * FROM TABLE(HOP(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE))",
		"line 1, column 21: HOP takes (TABLE stream, DESCRIPTOR(time_column), slide, size): found 3 arguments")
	f("SELECT * FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts)))",
		"line 1, column 21: TUMBLE takes (TABLE stream, DESCRIPTOR(time_column), size): found 2 arguments")
	f("SELECT * FROM TABLE(CUMULATE(TABLE s))",
		"line 1, column 21: CUMULATE takes (TABLE stream, DESCRIPTOR(time_column), step, size): found 1 argument")
	f("SELECT * FROM TABLE(SESSION())",
		"line 1, column 21: SESSION takes (TABLE stream [PARTITION BY key, ...], DESCRIPTOR(time_column), gap): found 0 arguments")
	f("SELECT *\nFROM TABLE(\n  TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE FROM t",
		"line 3, column 55: expected ')' to close TUMBLE(, found \"FROM\"")
	f("SELECT * FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE)",
		"line 1, column 73: unexpected end of input: expected ')' to close TABLE(")
	f("SELECT * FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), 60))",
		"line 1, column 53: the size argument of TUMBLE must be an interval literal, such as INTERVAL '1' MINUTE")
	f("SELECT * FROM TABLE(HOP(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE, '5 minutes'))",
		"line 1, column 71: the size argument of HOP must be an interval literal, such as INTERVAL '1' MINUTE")
	f("SELECT * FROM TABLE(TUMBLE(s, DESCRIPTOR(ts), INTERVAL '1' MINUTE))",
		"line 1, column 28: the first argument of TUMBLE must be TABLE stream: TUMBLE takes (TABLE stream, DESCRIPTOR(time_column), size)")
	f("SELECT * FROM TABLE(TUMBLE(TABLE s, ts, INTERVAL '1' MINUTE))",
		"line 1, column 37: the second argument of TUMBLE must be DESCRIPTOR(time_column): TUMBLE takes (TABLE stream, DESCRIPTOR(time_column), size)")
	f("SELECT * FROM TABLE(TUMBLE(TABLE s PARTITION BY k, DESCRIPTOR(ts), INTERVAL '1' MINUTE))",
		"line 1, column 36: PARTITION BY is only allowed in SESSION, not in TUMBLE")
	f("SELECT * FROM TABLE(WINDOW(TABLE s))",
		"line 1, column 21: unknown window function \"WINDOW\": expected TUMBLE, HOP, CUMULATE or SESSION")
	f("SELECT * FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts, x), INTERVAL '1' MINUTE))",
		"line 1, column 50: DESCRIPTOR takes exactly one time column")
	f("SELECT * FROM TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE)",
		"line 1, column 15: write the window function in the form TABLE(TUMBLE(TABLE stream, DESCRIPTOR(time_column), size))")
	f("SELECT * FROM TABLE s",
		"line 1, column 21: expected '(' after TABLE (as in TABLE(TUMBLE(...))), found \"s\"")

	// Parentheses, strings, comments, characters.
	f("SELECT (a + b FROM t", "line 1, column 15: expected ')' to close the '(' at line 1, column 8, found \"FROM\"")
	f("SELECT count(a FROM t", "line 1, column 16: expected ')' to close count(, found \"FROM\"")
	f("SELECT 'abc FROM t", "line 1, column 8: unterminated string: no closing ' found")
	f("SELECT a FROM t WHERE\nb = 'it''s", "line 2, column 5: unterminated string: no closing ' found")
	f("SELECT \"abc FROM t", "line 1, column 8: unterminated quoted identifier: no closing \" found")
	f("SELECT \"\" FROM t", "line 1, column 8: empty quoted identifier \"\"")
	f("SELECT 1 /* comment", "line 1, column 10: unterminated comment: no closing */ found")
	f("SELECT a @ b", "line 1, column 10: unexpected character '@'")
	f("SELECT a | b", "line 1, column 10: unexpected character '|' (did you mean '||'?)")
	f("SELECT ünï FROM t", "line 1, column 8: unexpected character 'ü'")
	f("SELECT 'ü', é", "line 1, column 13: unexpected character 'é'")
	f("SELECT 1e FROM t", "line 1, column 8: malformed number \"1e\": expected digits after the exponent")
	f("SELECT 12abc FROM t", "line 1, column 8: malformed number \"12abc\"")
	f("SELECT 1 +", "line 1, column 11: unexpected end of input: expected an expression after \"+\"")
	f("SELECT a + * b", "line 1, column 12: expected an expression after \"+\", found \"*\"")
	f("SELECT FROM t", "line 1, column 8: expected an expression after \"SELECT\", found \"FROM\"")
	f("SELECT a, FROM t", "line 1, column 11: expected an expression after \",\", found \"FROM\"")
	f("SELECT a FROM", "line 1, column 14: unexpected end of input: expected a table name, a subquery or TABLE(...) after \"FROM\"")

	// Intervals.
	f("SELECT INTERVAL '1' FORTNIGHT", "line 1, column 21: unknown interval unit \"FORTNIGHT\": expected MILLISECOND, SECOND, MINUTE, HOUR or DAY")
	f("SELECT INTERVAL '3 fortnights'", "line 1, column 17: unknown interval unit \"fortnights\": expected MILLISECOND, SECOND, MINUTE, HOUR or DAY")
	f("SELECT INTERVAL '1' MONTH", "line 1, column 21: interval unit MONTH is not supported: months and years are not fixed durations (use DAY, HOUR, MINUTE, SECOND or MILLISECOND)")
	f("SELECT INTERVAL '2 years'", "line 1, column 17: interval unit YEARS is not supported: months and years are not fixed durations (use DAY, HOUR, MINUTE, SECOND or MILLISECOND)")
	f("SELECT INTERVAL '1'", "line 1, column 20: unexpected end of input: expected an interval unit (MILLISECOND, SECOND, MINUTE, HOUR or DAY) after INTERVAL '1'")
	f("SELECT INTERVAL '5' AS x", "line 1, column 21: expected an interval unit (MILLISECOND, SECOND, MINUTE, HOUR or DAY) after INTERVAL '5', found \"AS\"")
	f("SELECT INTERVAL '00:01:00'", "line 1, column 17: cannot read INTERVAL '00:01:00': expected a number and a unit, such as INTERVAL '1 minute' or INTERVAL '1' MINUTE")
	f("SELECT INTERVAL '1.0000001' SECOND", "line 1, column 17: INTERVAL '1.0000001' SECOND is not a whole number of microseconds")
	f("SELECT INTERVAL '106751992' DAY", "line 1, column 17: INTERVAL '106751992' DAY is out of range")
	f("SELECT INTERVAL '1 minute' MINUTE", "line 1, column 28: INTERVAL '1 minute' already has its unit: write INTERVAL '1' MINUTE or INTERVAL '1 minute', not both")
	f("SELECT INTERVAL '1e400' SECOND", "line 1, column 17: INTERVAL '1e400' SECOND is out of range")
	f("SELECT INTERVAL ''", "line 1, column 17: cannot read INTERVAL '': expected a number and a unit, such as INTERVAL '1 minute' or INTERVAL '1' MINUTE")
	f("SELECT INTERVAL x", "line 1, column 17: expected a quoted value or a number after INTERVAL (for example INTERVAL '1' MINUTE), found \"x\"")

	// Streaming clauses.
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t\nEMIT EVERY INTERVAL '1' SECOND\nEMIT EVERY INTERVAL '2' SECOND",
		"line 3, column 1: EMIT EVERY is given twice (first at line 2, column 1)")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t ALLOWED LATENESS INTERVAL '1' SECOND LATE DATA DROP ALLOWED LATENESS INTERVAL '1' SECOND",
		"line 1, column 99: ALLOWED LATENESS is given twice (first at line 1, column 47)")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA DROP LATE DATA UPDATE",
		"line 1, column 62: LATE DATA is given twice (first at line 1, column 47)")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t ALLOWED LATENESS '10' SECOND",
		"line 1, column 64: expected an interval literal (for example INTERVAL '10' SECOND) after ALLOWED LATENESS, found \"'10'\"")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t EMIT AFTER INTERVAL '1' SECOND",
		"line 1, column 52: expected EVERY after EMIT, found \"AFTER\"")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA KEEP",
		"line 1, column 57: expected DROP, SIDE OUTPUT or UPDATE after LATE DATA, found \"KEEP\"")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t EMIT EVERY INTERVAL '1' SECOND WHERE a > 1",
		"line 1, column 78: WHERE must come before the streaming clauses (ALLOWED LATENESS, EMIT EVERY, LATE DATA, STATE TTL, PARALLELISM), which end the view")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t PARALLELISM 0",
		"line 1, column 59: PARALLELISM takes a whole number of tasks from 1 to 64, as in PARALLELISM 2")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t WHERE a > 1 PARALLELISM two",
		"line 1, column 71: PARALLELISM takes a whole number of tasks from 1 to 64, as in PARALLELISM 2")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t PARALLELISM 2 PARALLELISM 3",
		"line 1, column 61: PARALLELISM is given twice (first at line 1, column 47)")
	f("CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA UPDATE FOR 5",
		"line 1, column 68: expected an interval literal (for example INTERVAL '10' SECOND) after LATE DATA UPDATE FOR, found \"5\"")
	f("SELECT a FROM t EMIT EVERY INTERVAL '1' SECOND",
		"line 1, column 17: EMIT EVERY is only allowed in CREATE MATERIALIZED VIEW, after the view's query")

	// Statements.
	f("CREATE VIEW v AS SELECT 1", "line 1, column 8: CREATE VIEW is not supported: use CREATE MATERIALIZED VIEW")
	f("CREATE OR REPLACE VIEW v AS SELECT 1", "line 1, column 19: CREATE VIEW is not supported: use CREATE MATERIALIZED VIEW")
	f("CREATE TABLE t (a int)", "line 1, column 8: expected MATERIALIZED VIEW after CREATE, found \"TABLE\"")
	f("CREATE OR REPLACE MATERIALIZED VIEW IF NOT EXISTS v AS SELECT 1", "line 1, column 37: OR REPLACE and IF NOT EXISTS cannot be used together")
	f("CREATE MATERIALIZED VIEW v SELECT 1", "line 1, column 28: expected AS after the view name, found \"SELECT\"")
	f("CREATE MATERIALIZED VIEW select AS SELECT 1", "line 1, column 26: expected a view name, found the reserved word \"select\" (write it in double quotes to use it as a name)")
	f("CREATE MATERIALIZED VIEW a.b AS SELECT 1", "line 1, column 26: qualified names (a.b) are not supported: expected a view name")
	f("CREATE MATERIALIZED VIEW v AS", "line 1, column 30: unexpected end of input: expected SELECT or WITH after AS")
	f("DROP VIEW v", "line 1, column 6: DROP VIEW is not supported: use DROP MATERIALIZED VIEW")
	f("DROP TABLE t", "line 1, column 6: expected MATERIALIZED VIEW after DROP, found \"TABLE\"")
	f("SHOW COLUMNS", "line 1, column 6: expected VIEWS, MATERIALIZED VIEWS or TABLES after SHOW, found \"COLUMNS\"")
	f("EXPLAIN DROP MATERIALIZED VIEW v", "line 1, column 9: expected SELECT or CREATE MATERIALIZED VIEW after EXPLAIN, found \"DROP\"")
	f("WITH x AS (SELECT 1), x AS (SELECT 2) SELECT * FROM x", "line 1, column 23: \"x\" is defined twice in this WITH")
	f("WITH x (a) AS (SELECT 1) SELECT * FROM x", "line 1, column 8: column lists after a WITH name are not supported: name the columns with AS inside the SELECT")
	f("WITH RECURSIVE x AS (SELECT 1) SELECT * FROM x", "line 1, column 6: WITH RECURSIVE is not supported")
	f("WITH x AS (SELECT 1)", "line 1, column 21: unexpected end of input: expected SELECT after the WITH clause begun at line 1, column 1")
	f("WITH x AS SELECT 1", "line 1, column 11: expected '(' and a SELECT after x AS, found \"SELECT\"")
	f("INSERT INTO t VALUES (1)", "line 1, column 1: expected a statement (SELECT, CREATE MATERIALIZED VIEW, DROP MATERIALIZED VIEW, SHOW VIEWS or EXPLAIN), found \"INSERT\"")
	f("", "line 1, column 1: unexpected end of input: expected a statement (SELECT, CREATE MATERIALIZED VIEW, DROP MATERIALIZED VIEW, SHOW VIEWS or EXPLAIN)")
	f("  -- only a comment\n", "line 2, column 1: unexpected end of input: expected a statement (SELECT, CREATE MATERIALIZED VIEW, DROP MATERIALIZED VIEW, SHOW VIEWS or EXPLAIN)")

	// Trailing garbage and statement ends.
	f("SELECT a FROM t garbage more", "line 1, column 25: expected ';' or end of input, found \"more\"")
	f("SHOW VIEWS now", "line 1, column 12: expected ';' or end of input, found \"now\"")
	f("SELECT 1; SELECT 2", "line 1, column 11: only one statement is allowed, found \"SELECT\" after ';'")
	f("SELECT 1;;; SHOW VIEWS", "line 1, column 13: only one statement is allowed, found \"SHOW\" after ';'")
	f("SELECT a FROM t LIMIT 5 OFFSET 10", "line 1, column 25: OFFSET is not supported yet")
	f("SELECT a FROM t UNION SELECT b FROM u", "line 1, column 17: UNION without ALL is not supported yet: write UNION ALL (and SELECT DISTINCT over it for distinct rows)")
	f("SELECT a FROM t UNION ALL FROM u", "line 1, column 27: expected SELECT after UNION ALL, found \"FROM\"")
	f("SELECT a FROM t INTERSECT SELECT b FROM u", "line 1, column 17: INTERSECT is not supported yet")
	f("SELECT a FROM t WHERE a = 1 ORDER a", "line 1, column 35: expected BY after ORDER, found \"a\"")
	f("SELECT a FROM t GROUP a", "line 1, column 23: expected BY after GROUP, found \"a\"")

	// Clauses and expressions.
	f("SELECT a FROM t JOIN u", "line 1, column 23: unexpected end of input: expected ON and a join condition after the right side of INNER JOIN")
	f("SELECT a FROM t CROSS JOIN u ON x", "line 1, column 30: CROSS JOIN takes no ON condition: write JOIN ... ON for an inner join")
	f("SELECT a FROM t NATURAL JOIN u", "line 1, column 17: NATURAL JOIN is not supported: write JOIN ... ON")
	f("SELECT a FROM t JOIN u USING (k)", "line 1, column 24: JOIN ... USING is not supported: write ON a.col = b.col")
	f("SELECT a FROM t LEFT u", "line 1, column 22: expected JOIN after LEFT, found \"u\"")
	f("SELECT a FROM t full outer u", "line 1, column 28: expected JOIN after FULL OUTER, found \"u\"")
	f("CREATE OR REPLACE TABLE t", "line 1, column 19: expected MATERIALIZED VIEW after CREATE OR REPLACE, found \"TABLE\"")
	f("SELECT a FROM (SELECT 1)", "line 1, column 25: unexpected end of input: expected an alias for the subquery in FROM, as in (SELECT ...) AS s")
	f("SELECT a FROM (t)", "line 1, column 16: expected SELECT after '(' in FROM (parenthesised joins are not supported), found \"t\"")
	f("SELECT a FROM s.t", "line 1, column 16: qualified table names (schema.table) are not supported")
	f("SELECT a FROM generate_series(1, 3)", "line 1, column 15: table functions are not supported in FROM (only TABLE(TUMBLE(...)), TABLE(HOP(...)), TABLE(CUMULATE(...)) and TABLE(SESSION(...)))")
	f("SELECT a AS FROM t", "line 1, column 13: expected an alias after AS, found the reserved word \"FROM\" (write it in double quotes to use it as a name)")
	f("SELECT a IS 1", "line 1, column 13: expected NULL or NOT NULL after IS, found \"1\"")
	f("SELECT a IS NOT TRUE", "line 1, column 17: expected NULL after IS NOT, found \"TRUE\"")
	f("SELECT a BETWEEN 1 OR 2", "line 1, column 20: expected AND in BETWEEN ... AND ..., found \"OR\"")
	f("SELECT a IN 1", "line 1, column 13: expected '(' after IN, found \"1\"")
	f("SELECT a IN (SELECT 1)", "line 1, column 14: IN (SELECT ...) subqueries are not supported yet")
	f("SELECT (SELECT 1)", "line 1, column 9: subqueries in expressions are not supported yet")
	f("SELECT CASE END", "line 1, column 13: expected WHEN in CASE, found \"END\"")
	f("SELECT CASE WHEN a 1 END", "line 1, column 20: expected THEN after the WHEN condition, found \"1\"")
	f("SELECT CASE WHEN a THEN 1", "line 1, column 26: unexpected end of input: expected WHEN, ELSE or END in CASE")
	f("SELECT CASE WHEN a THEN 1 ELSE 2 WHEN", "line 1, column 34: expected END to close CASE, found \"WHEN\"")
	f("SELECT CAST(a INT)", "line 1, column 15: expected AS in CAST(expr AS type), found \"INT\"")
	f("SELECT CAST(a AS 1)", "line 1, column 18: expected a type name after \"AS\", found \"1\"")
	f("SELECT a::", "line 1, column 11: unexpected end of input: expected a type name after \"::\"")
	f("SELECT x::decimal(10, a)", "line 1, column 23: expected a number in the parameters of DECIMAL, found \"a\"")
	f("SELECT EXTRACT(YEAR ts)", "line 1, column 21: expected FROM in EXTRACT(part FROM expr), found \"ts\"")
	f("SELECT count(*) OVER w", "line 1, column 22: expected '(' after OVER (named windows are not supported), found \"w\"")
	f("SELECT a.*.b FROM t", "line 1, column 11: expected ';' or end of input, found \".\"")
	f("SELECT a.1", "line 1, column 9: expected ';' or end of input, found \".1\"")
	f("SELECT t.", "line 1, column 10: unexpected end of input: expected a name after '.'")
	f("SELECT a NOT b", "line 1, column 10: expected ';' or end of input, found \"NOT\"")
	f("SELECT EXISTS (SELECT 1)", "line 1, column 8: EXISTS subqueries are not supported yet")
}

func TestParseExprErrors(t *testing.T) {
	f := func(src, want string) {
		t.Helper()
		_, err := ParseExpr(src)
		if err == nil {
			t.Errorf("ParseExpr(%q): no error, want %s", src, want)
			return
		}
		if got := err.Error(); got != want {
			t.Errorf("ParseExpr(%q)\n got %s\nwant %s", src, got, want)
		}
	}
	f("", "line 1, column 1: unexpected end of input: expected an expression")
	f("1 +", "line 1, column 4: unexpected end of input: expected an expression after \"+\"")
	f("a b", "line 1, column 3: expected end of input after the expression, found \"b\"")
	f("(((a))", "line 1, column 7: unexpected end of input: expected ')' to close the '(' at line 1, column 1")
}

func TestNestingDepth(t *testing.T) {
	tooDeep := func(src string, wantPos Pos) {
		t.Helper()
		_, err := Parse(src)
		var perr *Error
		if !errors.As(err, &perr) {
			t.Errorf("Parse(%.40q...): got %v, want a nesting error", src, err)
			return
		}
		want := "expression is nested too deeply (more than 200 levels)"
		if perr.Msg != want || perr.Pos != wantPos {
			t.Errorf("Parse(%.40q...): got %v at %+v, want %q at %+v", src, perr.Msg, perr.Pos, want, wantPos)
		}
	}
	// SELECT is level 1 and the select item level 2; each '(' adds one.
	ok := "SELECT " + strings.Repeat("(", 198) + "1" + strings.Repeat(")", 198)
	if _, err := Parse(ok); err != nil {
		t.Errorf("198 parentheses: %v", err)
	}
	tooDeep("SELECT "+strings.Repeat("(", 199)+"1"+strings.Repeat(")", 199), Pos{Line: 1, Col: 207, Offset: 206})
	tooDeep("SELECT "+strings.Repeat("(", 100000), Pos{Line: 1, Col: 207, Offset: 206})
	tooDeep("SELECT "+strings.Repeat("- ", 100000)+"1", Pos{Line: 1, Col: 404, Offset: 403})
	tooDeep("SELECT "+strings.Repeat("NOT ", 100000)+"1", Pos{Line: 1, Col: 800, Offset: 799})
	tooDeep("SELECT "+strings.Repeat("f(", 100000), Pos{Line: 1, Col: 406, Offset: 405})
	tooDeep("SELECT "+strings.Repeat("CASE WHEN ", 100000), Pos{Line: 1, Col: 1998, Offset: 1997})
	tooDeep(strings.Repeat("SELECT * FROM (", 100000), Pos{Line: 1, Col: 3001, Offset: 3000})
	tooDeep("SELECT "+strings.Repeat("a IN (", 100000), Pos{Line: 1, Col: 1202, Offset: 1201})
	if _, err := ParseExpr(strings.Repeat("a + ", 10000) + "a"); err != nil {
		t.Errorf("a long flat sum must parse: %v", err)
	}
}

// walk calls fn for every node of a statement or expression, with a label
// and the node's position.
func walk(n any, fn func(label string, p Pos)) {
	switch n := n.(type) {
	case nil:
	case *Select:
		if n == nil {
			return
		}
		fn("Select", n.Pos)
		for _, c := range n.With {
			fn("CTE", c.Pos)
			walk(c.Query, fn)
		}
		for _, it := range n.Items {
			fn("SelectItem", it.Pos)
			walk(it.Expr, fn)
		}
		walk(n.From, fn)
		walk(n.Where, fn)
		for _, e := range n.GroupBy {
			walk(e, fn)
		}
		walk(n.Having, fn)
		for _, o := range n.OrderBy {
			fn("OrderItem", o.Pos)
			walk(o.Expr, fn)
		}
		walk(n.Limit, fn)
	case *CreateView:
		fn("CreateView", n.Pos)
		walk(n.Query, fn)
		for _, iv := range []*Interval{n.AllowedLateness, n.EmitEvery, n.LateFor} {
			if iv != nil {
				walk(iv, fn)
			}
		}
	case *DropView:
		fn("DropView", n.Pos)
	case *ShowViews:
		fn("ShowViews", n.Pos)
	case *ShowTables:
		fn("ShowTables", n.Pos)
	case *Explain:
		fn("Explain", n.Pos)
		walk(n.Stmt, fn)
	case *TableRef:
		fn("TableRef", n.Pos)
	case *Subquery:
		fn("Subquery", n.Pos)
		walk(n.Query, fn)
	case *WindowTVF:
		fn("WindowTVF", n.Pos)
		for _, a := range n.Args {
			walk(a, fn)
		}
	case *Join:
		fn("Join", n.Pos)
		walk(n.Left, fn)
		walk(n.Right, fn)
		walk(n.On, fn)
	case *Ident:
		fn("Ident", n.Pos)
	case *NumberLit:
		fn("NumberLit", n.Pos)
	case *StringLit:
		fn("StringLit", n.Pos)
	case *BoolLit:
		fn("BoolLit", n.Pos)
	case *NullLit:
		fn("NullLit", n.Pos)
	case *Interval:
		fn("Interval", n.Pos)
	case *Unary:
		fn("Unary", n.Pos)
		walk(n.X, fn)
	case *Binary:
		fn("Binary", n.Pos)
		walk(n.L, fn)
		walk(n.R, fn)
	case *IsNull:
		fn("IsNull", n.Pos)
		walk(n.X, fn)
	case *Like:
		fn("Like", n.Pos)
		walk(n.X, fn)
		walk(n.Pattern, fn)
	case *In:
		fn("In", n.Pos)
		walk(n.X, fn)
		for _, e := range n.List {
			walk(e, fn)
		}
	case *Between:
		fn("Between", n.Pos)
		walk(n.X, fn)
		walk(n.Lo, fn)
		walk(n.Hi, fn)
	case *Case:
		fn("Case", n.Pos)
		walk(n.Operand, fn)
		for _, w := range n.Whens {
			walk(w.Cond, fn)
			walk(w.Then, fn)
		}
		walk(n.Else, fn)
	case *Cast:
		fn("Cast", n.Pos)
		walk(n.X, fn)
	case *Call:
		fn("Call", n.Pos)
		for _, e := range n.Args {
			walk(e, fn)
		}
		if n.Over != nil {
			for _, e := range n.Over.PartitionBy {
				walk(e, fn)
			}
			for _, o := range n.Over.OrderBy {
				fn("OrderItem", o.Pos)
				walk(o.Expr, fn)
			}
		}
	default:
		fn(fmt.Sprintf("unknown %T", n), Pos{})
	}
}

func TestPositions(t *testing.T) {
	src := "-- positions\n" + // line 1
		"SELECT a,\n" + // line 2
		"  b + 1 AS c, t.*\n" + // line 3
		"FROM t LEFT JOIN u\n" + // line 4
		"  ON t.k = u.k\n" + // line 5
		"WHERE x IS NOT NULL AND y NOT LIKE 'é%' AND z BETWEEN 1 AND 2\n" + // line 6
		"ORDER BY 'ü', z::int DESC"
	st, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	walk(st, func(label string, p Pos) {
		got = append(got, fmt.Sprintf("%s@%d:%d/%d", label, p.Line, p.Col, p.Offset))
	})
	want := []string{
		"Select@2:1/13",
		"SelectItem@2:8/20", "Ident@2:8/20",
		"SelectItem@3:3/25", "Binary@3:5/27", "Ident@3:3/25", "NumberLit@3:7/29",
		"SelectItem@3:15/37",
		"Join@4:8/48", "TableRef@4:6/46", "TableRef@4:18/58",
		"Binary@5:10/69", "Ident@5:6/65", "Ident@5:12/71",
		"Binary@6:41/116", "Binary@6:21/95", "IsNull@6:9/83", "Ident@6:7/81",
		"Like@6:27/101", "Ident@6:25/99", "StringLit@6:36/110",
		"Between@6:47/122", "Ident@6:45/120", "NumberLit@6:55/130", "NumberLit@6:61/136",
		"OrderItem@7:10/147", "StringLit@7:10/147",
		"OrderItem@7:15/153", "Cast@7:16/154", "Ident@7:15/153",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("positions:\n got %v\nwant %v", got, want)
	}
	checkPositions(t, src, st)

	// A TVF, a view and its clauses.
	src = "CREATE MATERIALIZED VIEW v AS\nSELECT count(*)\nFROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) w\nALLOWED LATENESS INTERVAL '5' SECOND"
	st, err = Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	walk(st, func(label string, p Pos) { got = append(got, fmt.Sprintf("%s@%d:%d", label, p.Line, p.Col)) })
	want = []string{"CreateView@1:1", "Select@2:1", "SelectItem@2:8", "Call@2:8", "WindowTVF@3:6", "Interval@3:44", "Interval@4:18"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("positions:\n got %v\nwant %v", got, want)
	}
	checkPositions(t, src, st)
}

// checkPositions checks that every position in the tree lies within src
// and that its line and column agree with its offset.
func checkPositions(t testing.TB, src string, n any) {
	t.Helper()
	walk(n, func(label string, p Pos) {
		if p.Offset < 0 || p.Offset > len(src) {
			t.Errorf("%s: offset %d outside the input (%d bytes)", label, p.Offset, len(src))
			return
		}
		line, col := 1, 1
		for _, r := range src[:p.Offset] {
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		if p.Line != line || p.Col != col {
			t.Errorf("%s: position %d:%d does not match offset %d (%d:%d)", label, p.Line, p.Col, p.Offset, line, col)
		}
	})
}

func TestCreateViewText(t *testing.T) {
	f := func(src, want string) {
		t.Helper()
		st, err := Parse(src)
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			return
		}
		if ex, ok := st.(*Explain); ok {
			st = ex.Stmt
		}
		cv, ok := st.(*CreateView)
		if !ok {
			t.Errorf("Parse(%q) = %T, want *CreateView", src, st)
			return
		}
		if cv.Text != want {
			t.Errorf("Parse(%q).Text\n got %q\nwant %q", src, cv.Text, want)
		}
	}
	f("CREATE MATERIALIZED VIEW v AS SELECT 1", "CREATE MATERIALIZED VIEW v AS SELECT 1")
	f("  \n create materialized view v as select a from t ;  \n", "create materialized view v as select a from t")
	f("-- lead\nCREATE MATERIALIZED VIEW v AS\n  SELECT a\n  FROM t\n  EMIT EVERY INTERVAL '1' SECOND; -- trail",
		"CREATE MATERIALIZED VIEW v AS\n  SELECT a\n  FROM t\n  EMIT EVERY INTERVAL '1' SECOND")
	f("EXPLAIN CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA DROP;", "CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA DROP")
}

func TestParseScript(t *testing.T) {
	f := func(src string, want ...string) {
		t.Helper()
		sts, err := ParseScript(src)
		if err != nil {
			t.Errorf("ParseScript(%q): %v", src, err)
			return
		}
		var got []string
		for _, s := range sts {
			got = append(got, dump(s))
		}
		if strings.Join(got, " | ") != strings.Join(want, " | ") {
			t.Errorf("ParseScript(%q)\n got %q\nwant %q", src, got, want)
		}
	}
	f("")
	f(" ;; -- nothing\n /* at all */ ;")
	f("SELECT 1", "SELECT 1")
	f("SELECT 1;", "SELECT 1")
	f("SHOW VIEWS; DROP MATERIALIZED VIEW v;;\n-- next\nSELECT 'a;b' AS \";\" FROM t",
		"SHOW VIEWS", "DROP MATERIALIZED VIEW v", "SELECT 'a;b' AS ; FROM t")
	f("CREATE MATERIALIZED VIEW a AS SELECT 1 EMIT EVERY INTERVAL '1' SECOND;\nCREATE MATERIALIZED VIEW b AS SELECT 2;",
		"CREATE MATERIALIZED VIEW a AS SELECT 1 EMIT EVERY 1000000us", "CREATE MATERIALIZED VIEW b AS SELECT 2")

	sts, err := ParseScript("CREATE MATERIALIZED VIEW a AS SELECT 1;\nCREATE MATERIALIZED VIEW b AS SELECT 2\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := sts[1].(*CreateView).Text; got != "CREATE MATERIALIZED VIEW b AS SELECT 2" {
		t.Errorf("second view's Text = %q", got)
	}

	e := func(src, want string) {
		t.Helper()
		_, err := ParseScript(src)
		if err == nil || err.Error() != want {
			t.Errorf("ParseScript(%q)\n got %v\nwant %s", src, err, want)
		}
	}
	e("SELECT 1; SELECT 2 SELECT 3", "line 1, column 20: expected ';' or end of input, found \"SELECT\"")
	e("SELECT 1;\nSELECT 'x", "line 2, column 8: unterminated string: no closing ' found")
	e("SHOW VIEWS;\nCREATE VIEW v AS SELECT 1", "line 2, column 8: CREATE VIEW is not supported: use CREATE MATERIALIZED VIEW")
}

// TestFormatRoundTrip checks that FormatExpr's output parses back to the
// same tree.
func TestFormatRoundTrip(t *testing.T) {
	f := func(src string) {
		t.Helper()
		e, err := ParseExpr(src)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", src, err)
			return
		}
		s1 := FormatExpr(e)
		e2, err := ParseExpr(s1)
		if err != nil {
			t.Errorf("ParseExpr(FormatExpr(%q) = %q): %v", src, s1, err)
			return
		}
		if s2 := FormatExpr(e2); s2 != s1 {
			t.Errorf("round trip of %q: %q then %q", src, s1, s2)
		}
	}
	f("a + b * c - -d")
	f("NOT (a OR b) AND c IS NOT NULL")
	f("x NOT BETWEEN -1 AND +2 OR y IN (1, 'a', NULL)")
	f(`"Weird ""name""".x || 'it''s'`)
	f("CASE WHEN a THEN b ELSE c END")
	f("CAST(x AS TIMESTAMP(3) WITH TIME ZONE)")
	f("EXTRACT('Day Of Week' FROM ts)")
	f("INTERVAL '1.5' SECOND + INTERVAL '0.001' MILLISECOND + INTERVAL '-3' DAY")
	f("INTERVAL '-9223372036854.775808' SECOND")
	f("count(DISTINCT a) OVER (PARTITION BY b ORDER BY c DESC)")
	f(`"left" = left(x, 1)`)
}

func TestFormatExprNil(t *testing.T) {
	if got := FormatExpr(nil); got != "" {
		t.Errorf("FormatExpr(nil) = %q", got)
	}
	got := FormatExpr(&Binary{Op: "+", L: (*Ident)(nil), R: &Case{Whens: []When{{}}}})
	if want := "(<nil> + CASE WHEN <nil> THEN <nil> END)"; got != want {
		t.Errorf("FormatExpr with nil parts = %q, want %q", got, want)
	}
}

func TestLexer(t *testing.T) {
	f := func(src, want string) {
		t.Helper()
		var parts []string
		for _, tk := range lex(src) {
			switch tk.kind {
			case tokEOF:
				parts = append(parts, fmt.Sprintf("EOF@%d:%d", tk.pos.Line, tk.pos.Col))
			case tokErr:
				parts = append(parts, "ERR:"+tk.err.Error())
			default:
				kind := map[tokKind]string{tokWord: "w", tokQuoted: "q", tokString: "s", tokNumber: "n", tokOp: "o"}[tk.kind]
				parts = append(parts, fmt.Sprintf("%s(%s)@%d:%d", kind, tk.val, tk.pos.Line, tk.pos.Col))
			}
		}
		if got := strings.Join(parts, " "); got != want {
			t.Errorf("lex(%q)\n got %s\nwant %s", src, got, want)
		}
	}
	f("SELECT Foo_$1", "w(select)@1:1 w(foo_$1)@1:8 EOF@1:14")
	f(`"Mixed ""Q"""`, `q(Mixed "Q")@1:1 EOF@1:14`)
	f("'a''b' 'é'x", "s(a'b)@1:1 s(é)@1:8 w(x)@1:11 EOF@1:12")
	f("123 1.5 .5 1. 1e3 1.5E-3 2e+4", "n(123)@1:1 n(1.5)@1:5 n(.5)@1:9 n(1.)@1:12 n(1e3)@1:15 n(1.5E-3)@1:19 n(2e+4)@1:26 EOF@1:30")
	f("+-*/%||=<>!=<<=>>=(),.;::", "o(+)@1:1 o(-)@1:2 o(*)@1:3 o(/)@1:4 o(%)@1:5 o(||)@1:6 o(=)@1:8 o(<>)@1:9 o(!=)@1:11 o(<)@1:13 o(<=)@1:14 o(>)@1:16 o(>=)@1:17 o(()@1:19 o())@1:20 o(,)@1:21 o(.)@1:22 o(;)@1:23 o(::)@1:24 EOF@1:26")
	f("a -- c\n/* x\ny */ b", "w(a)@1:1 w(b)@3:6 EOF@3:7")
	f("a-b", "w(a)@1:1 o(-)@1:2 w(b)@1:3 EOF@1:4")
	f("t.x t.5", "w(t)@1:1 o(.)@1:2 w(x)@1:3 w(t)@1:5 n(.5)@1:6 EOF@1:8")
	f("'multi\nline' x", "s(multi\nline)@1:1 w(x)@2:7 EOF@2:8")
	f("a\x00", "w(a)@1:1 ERR:line 1, column 2: unexpected character '\\x00'")
	f("a \xff", "w(a)@1:1 ERR:line 1, column 3: invalid UTF-8 byte 0xff")
	f("a : b", "w(a)@1:1 ERR:line 1, column 3: unexpected character ':' (did you mean '::'?)")
	f("a ! b", "w(a)@1:1 ERR:line 1, column 3: unexpected character '!' (did you mean '!='?)")
}

// TestRandomTokens feeds the parser random sequences of SQL tokens, which
// reach deeper into the grammar than random bytes: no input may panic,
// positions must be consistent, and expressions must survive FormatExpr.
func TestRandomTokens(t *testing.T) {
	vocab := strings.Fields(`SELECT FROM WHERE GROUP BY HAVING ORDER LIMIT AS DISTINCT ALL * , . ( ) ; ::
		+ - / % || = <> != < <= > >= AND OR NOT IS NULL TRUE FALSE LIKE ILIKE IN BETWEEN
		CASE WHEN THEN ELSE END CAST TRY_CAST EXTRACT INTERVAL '1' '1.5' '2 hours' 5 1.5
		MINUTE SECOND MONTH TABLE TUMBLE HOP CUMULATE SESSION DESCRIPTOR PARTITION JOIN LEFT
		RIGHT FULL OUTER CROSS INNER ON CREATE MATERIALIZED VIEW OR REPLACE IF EXISTS DROP
		SHOW VIEWS EXPLAIN ALLOWED LATENESS EMIT EVERY LATE DATA SIDE OUTPUT UPDATE FOR
		a b t s ts k count f "Q" 'str' TIMESTAMP DOUBLE PRECISION DECIMAL WITH TIME ZONE
		OVER ASC DESC`)
	r := rand.New(rand.NewPCG(1, 2))
	prefixes := []string{"", "SELECT ", "SELECT * FROM ", "CREATE MATERIALIZED VIEW v AS SELECT "}
	for range 50000 {
		var b strings.Builder
		b.WriteString(prefixes[r.IntN(len(prefixes))])
		for range 1 + r.IntN(25) {
			b.WriteString(vocab[r.IntN(len(vocab))] + " ")
		}
		src := b.String()
		st, err := Parse(src)
		checkErr(t, src, err)
		if err == nil {
			checkPositions(t, src, st)
			for _, s := range selects(st) {
				checkRoundTrip(t, s.Where)
				for _, it := range s.Items {
					checkRoundTrip(t, it.Expr)
				}
			}
		}
		if e, err := ParseExpr(src); err == nil {
			checkRoundTrip(t, e)
		}
	}
}
