package parse

import (
	"errors"
	"strings"
	"testing"
)

// fuzzSeeds are inputs that parse, covering every construct.
var fuzzSeeds = []string{
	"SELECT 1+1",
	"SELECT * FROM clicks;",
	"SELECT c.*, u.name FROM clicks c JOIN users u ON c.uid = u.id",
	"SELECT DISTINCT a, b AS bee, c cee, d \"Dee\" FROM t AS x",
	"SELECT a FROM t WHERE a > 1 GROUP BY a, b HAVING count(*) > 2 ORDER BY a DESC, b ASC LIMIT 10",
	"SELECT a FROM t1 LEFT JOIN t2 ON t1.k = t2.k RIGHT OUTER JOIN t3 ON t3.k = t2.k FULL JOIN t4 ON TRUE CROSS JOIN t5",
	"SELECT a FROM t1, t2 JOIN t3 ON b",
	"SELECT s.n FROM (SELECT count(*) AS n FROM t) AS s",
	"SELECT * FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(ts), INTERVAL '10' SECOND)) AS w",
	"SELECT * FROM TABLE(HOP(TABLE s, DESCRIPTOR(ts), INTERVAL '1' MINUTE, INTERVAL '5' MINUTE))",
	"SELECT * FROM TABLE(CUMULATE(TABLE s, DESCRIPTOR(ts), INTERVAL '1' HOUR, INTERVAL '1' DAY)) c",
	"SELECT * FROM TABLE(SESSION(TABLE s PARTITION BY user_id, region, DESCRIPTOR(ts), INTERVAL '30' SECOND))",
	"CREATE OR REPLACE MATERIALIZED VIEW v AS SELECT a FROM t",
	"CREATE MATERIALIZED VIEW IF NOT EXISTS \"V\" AS SELECT 1 ALLOWED LATENESS INTERVAL '10' SECOND",
	"CREATE MATERIALIZED VIEW v AS SELECT a FROM t WHERE a > 1 EMIT EVERY INTERVAL '1' SECOND ALLOWED LATENESS INTERVAL '1 minute' LATE DATA DROP",
	"CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA SIDE OUTPUT",
	"CREATE MATERIALIZED VIEW v AS SELECT a FROM t LATE DATA UPDATE FOR INTERVAL '1' HOUR",
	"DROP MATERIALIZED VIEW IF EXISTS v",
	"SHOW VIEWS",
	"SHOW MATERIALIZED VIEWS",
	"EXPLAIN SELECT a FROM t",
	"EXPLAIN CREATE MATERIALIZED VIEW v AS SELECT a FROM t EMIT EVERY INTERVAL '2' SECOND",
	"SELECT a FROM t WHERE NOT a = b AND c OR d IS NOT NULL",
	"SELECT a FROM t WHERE x BETWEEN 1 AND 2 AND y NOT IN (1, 2) AND z NOT LIKE 'a%' AND w ILIKE 'B'",
	"SELECT -a::int, a || b || c, x::decimal(10,2), CAST(x AS double precision), TRY_CAST(y AS timestamp with time zone)",
	"SELECT EXTRACT(HOUR FROM ts), TIMESTAMP '2026-01-01 00:00:00', DATE '2026-01-01'",
	"SELECT CASE WHEN a THEN 1 ELSE 2 END, CASE x WHEN 1 THEN 'one' END",
	"SELECT count(DISTINCT u), row_number() OVER (PARTITION BY a ORDER BY ts DESC), left(s, 2)",
	"SELECT \"Mixed \"\"Case\"\"\", 'it''s', 1.5e3, .5, 1E-3 -- comment\n/* block */ FROM t",
	"SELECT INTERVAL '1.5' SECOND, INTERVAL 5 MINUTE, INTERVAL '10' MILLISECOND, INTERVAL '2 hours 30 minutes'",
	"SELECT a\nFROM t\nWHERE b = 'é'",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		st, err := Parse(src)
		checkErr(t, src, err)
		if err == nil {
			if st == nil {
				t.Fatalf("Parse(%q) returned neither a statement nor an error", src)
			}
			if len(src) < 10000 {
				checkPositions(t, src, st)
			}
			_ = dump(st)
			for _, s := range selects(st) {
				checkRoundTrip(t, s.Where)
			}
			// ParseScript agrees with Parse on a single statement.
			sts, err := ParseScript(src)
			if err != nil || len(sts) != 1 || dump(sts[0]) != dump(st) {
				t.Fatalf("Parse(%q) = %s but ParseScript gives %d statements, %v", src, dump(st), len(sts), err)
			}
		}

		sts, err := ParseScript(src)
		checkErr(t, src, err)
		if err == nil && len(src) < 10000 {
			for _, s := range sts {
				checkPositions(t, src, s)
			}
		}

		e, err := ParseExpr(src)
		checkErr(t, src, err)
		if err == nil {
			if len(src) < 10000 {
				checkPositions(t, src, e)
			}
			checkRoundTrip(t, e)
		}
	})
}

// checkErr checks that err is nil or an *Error whose position lies within
// src and agrees with itself.
func checkErr(t *testing.T, src string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var perr *Error
	if !errors.As(err, &perr) || perr == nil {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if perr.Msg == "" {
		t.Fatalf("error with an empty message at %v", perr.Pos)
	}
	if len(src) < 10000 {
		checkPositions(t, src, &NullLit{Pos: perr.Pos})
	}
}

// checkRoundTrip checks that FormatExpr(e) parses back to the same text.
func checkRoundTrip(t *testing.T, e Expr) {
	t.Helper()
	s1 := FormatExpr(e)
	if e == nil {
		return
	}
	e2, err := ParseExpr(s1)
	if err != nil {
		var perr *Error
		if errors.As(err, &perr) && strings.Contains(perr.Msg, "nested too deeply") {
			return // the parentheses FormatExpr adds can go past the limit
		}
		t.Fatalf("FormatExpr gave %q, which does not parse: %v", s1, err)
	}
	if s2 := FormatExpr(e2); s2 != s1 {
		t.Fatalf("FormatExpr round trip: %q then %q", s1, s2)
	}
}

// selects returns every query in a statement, subqueries included.
func selects(st Statement) []*Select {
	var out []*Select
	var fromSelects func(f From)
	var add func(s *Select)
	add = func(s *Select) {
		if s == nil {
			return
		}
		out = append(out, s)
		fromSelects(s.From)
		add(s.UnionAll)
	}
	fromSelects = func(f From) {
		switch f := f.(type) {
		case *Subquery:
			add(f.Query)
		case *Join:
			fromSelects(f.Left)
			fromSelects(f.Right)
		}
	}
	switch st := st.(type) {
	case *Select:
		add(st)
	case *CreateView:
		add(st.Query)
	case *Explain:
		out = append(out, selects(st.Stmt)...)
	}
	return out
}
