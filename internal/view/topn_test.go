package view

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/gate"
)

// TestTopNAndSubqueriesMatchBatchSQL: Top-N views (continuous, with N = 1
// as deduplication, and per window, read by another view), views over
// subqueries without state, and WITH queries (chained, under a window,
// holding a Top-N) equal DuckDB's batch answers over the raw table,
// across a node restart.
func TestTopNAndSubqueriesMatchBatchSQL(t *testing.T) {
	forSeeds(t, checkTopN, []uint64{41, 42})
}

func checkTopN(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 17))
	partitions := 1 + rng.IntN(4)
	disorder := time.Duration(1+rng.IntN(3)) * time.Second
	dir := t.TempDir()
	n := newNode(t, dir, partitions, disorder)
	k := 1 + rng.IntN(4)
	ddl := []string{
		// Ties on status rank by input position; seq breaks them here so
		// that DuckDB's answer is the same.
		fmt.Sprintf(`CREATE MATERIALIZED VIEW best AS
		SELECT user_id, rn, seq, status FROM (
		  SELECT user_id, seq, status, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY status DESC, seq) AS rn FROM events
		) b WHERE rn <= %d`, k),
		// Ties share a rank and are all kept.
		`CREATE MATERIALIZED VIEW ranked AS
		SELECT user_id, rk, seq, status FROM (
		  SELECT user_id, seq, status, RANK() OVER (PARTITION BY user_id ORDER BY status % 7 DESC) AS rk FROM events
		) r WHERE rk <= 3`,
		`CREATE MATERIALIZED VIEW dense AS
		SELECT window_end AS t, cls, seq, rk FROM (
		  SELECT *, status % 4 AS cls, DENSE_RANK() OVER (PARTITION BY window_start, window_end ORDER BY status % 4) AS rk
		  FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND))
		) w WHERE rk <= 2`,
		`CREATE MATERIALIZED VIEW latest AS
		SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts DESC, seq DESC) AS r FROM events) x WHERE r = 1`,
		`CREATE MATERIALIZED VIEW firsts AS
		SELECT window_end AS t, cls, seq, rn FROM (
		  SELECT *, status / 100 AS cls, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, status / 100 ORDER BY status, seq) AS rn
		  FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND))
		  WHERE user_id <> 'u0'
		) w WHERE 3 > rn`,
		`CREATE MATERIALIZED VIEW first_counts AS
		SELECT window_start AS s, count(*) AS n, sum(seq) AS total
		FROM TABLE(TUMBLE(TABLE firsts, DESCRIPTOR(t), INTERVAL '10' SECOND)) GROUP BY window_start, window_end`,
		`CREATE MATERIALIZED VIEW classes AS
		SELECT cls, count(*) AS n, max(s.seq) AS hi FROM (
		  SELECT status / 100 AS cls, seq FROM events WHERE status > 250
		) s WHERE cls <> 4 GROUP BY cls`,
		`CREATE MATERIALIZED VIEW class_windows AS
		SELECT window_start, cls, count(*) AS n FROM (
		  SELECT *, status % 7 AS cls FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND))
		) s GROUP BY window_start, window_end, cls`,
		`CREATE MATERIALIZED VIEW error_users AS
		WITH errs AS (SELECT seq, user_id, status FROM events WHERE status >= 400),
		  worst AS (SELECT e.user_id AS u, status FROM errs e WHERE status >= 450)
		SELECT u, count(*) AS n, max(status) AS mx FROM worst GROUP BY u`,
		`CREATE MATERIALIZED VIEW kinds AS
		WITH e AS (SELECT ts AS t, seq, status % 5 AS k FROM events WHERE status < 450)
		SELECT window_start, k, count(*) AS n, sum(seq) AS total
		FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(t), INTERVAL '2' SECOND)) GROUP BY window_start, window_end, k`,
		// Steps with state of their own run as views of their own.
		`CREATE MATERIALIZED VIEW sub_totals AS
		SELECT count(*) AS users, sum(n) AS total FROM (SELECT user_id, count(*) AS n FROM events GROUP BY user_id) c`,
		`CREATE MATERIALIZED VIEW cte_winners AS
		WITH m AS (SELECT window_end AS t, max(status) AS mx FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end)
		SELECT e.seq, e.status, m.t FROM events e JOIN m ON e.status = m.mx AND e.ts >= m.t - INTERVAL '1' SECOND AND e.ts < m.t`,
		`CREATE MATERIALIZED VIEW recent AS
		WITH ranked AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY seq DESC) AS rn FROM events)
		SELECT user_id, seq FROM ranked WHERE rn <= 2`,
	}
	for _, s := range ddl {
		n.exec(t, s)
	}
	n.refuses(t, [][2]string{
		{`CREATE MATERIALIZED VIEW x AS SELECT * FROM (SELECT user_id, count(*) AS n FROM events GROUP BY user_id) c`,
			`view "x__sub1" updates its rows: a view reading it must aggregate them`},
		{`CREATE MATERIALIZED VIEW x AS SELECT count(*) AS c FROM TABLE(TUMBLE(TABLE cte_winners__m, DESCRIPTOR(t), INTERVAL '10' SECOND)) GROUP BY window_start, window_end`,
			`view "cte_winners__m" is a step of view "cte_winners"; read "cte_winners", or write the step as a view of its own`},
		{`DROP MATERIALIZED VIEW cte_winners__m`, `view "cte_winners__m" is a step of view "cte_winners" (a WITH query or subquery of it); drop "cte_winners"`},
		{`CREATE MATERIALIZED VIEW x AS SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts) AS rn FROM events) r WHERE rn <= 2 AND status > 300`,
			`only a bound on the row number may follow a Top-N subquery`},
		{`CREATE MATERIALIZED VIEW x AS SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts) AS rn FROM events) r`,
			`write WHERE rn <= N around the subquery`},
		{`CREATE MATERIALIZED VIEW x AS SELECT * FROM (SELECT *, NTILE(4) OVER (PARTITION BY user_id ORDER BY ts) AS rn FROM events) r WHERE rn <= 2`,
			`window function ntile() OVER (...) is not supported in views; ROW_NUMBER(), RANK() and DENSE_RANK() are, for Top-N`},
		{`CREATE MATERIALIZED VIEW x AS SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id) AS rn FROM events) r WHERE rn <= 2`,
			`needs ORDER BY`},
		{`CREATE MATERIALIZED VIEW x AS SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts) AS rn FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND))) r WHERE rn <= 2`,
			`must PARTITION BY window_start, window_end`},
		{`CREATE MATERIALIZED VIEW x AS SELECT nope FROM (SELECT seq FROM events) s`, `unknown column "nope"; the subquery "s" has: seq`},
		{`CREATE MATERIALIZED VIEW x AS SELECT max(seq) AS n FROM best`, `view "best" updates its rows, so a view over it takes each changed row back out of its group; max(seq) cannot take a value back`},
		{`CREATE MATERIALIZED VIEW x AS WITH e AS (SELECT seq + 1 AS t FROM events) SELECT count(*) AS n FROM TABLE(TUMBLE(TABLE e, DESCRIPTOR(t), INTERVAL '1' SECOND)) GROUP BY window_start, window_end`,
			`a window over "e" runs on a column of "events" as it is; t is computed there`},
	})

	// EXPLAIN shows a view's steps first.
	var plan []string
	for _, r := range n.exec(t, `EXPLAIN CREATE MATERIALIZED VIEW y AS SELECT count(*) AS c FROM (SELECT user_id, count(*) AS n FROM events GROUP BY user_id) q`).Rows {
		plan = append(plan, r[0].(string))
	}
	if text := strings.Join(plan, "\n"); !strings.HasPrefix(text, "view y__sub1: upserts by key") || !strings.Contains(text, "source: the changelog of view y__sub1") {
		t.Fatalf("EXPLAIN of a view with a step:\n%s", text)
	}

	ev := newRandomEvents(rng, 2+rng.IntN(10), 120, disorder)
	events := 800 + rng.IntN(800)
	half := events / 2
	ev.ingest(t, n, 0, half)
	time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
	n.close()
	n = newNode(t, dir, partitions, disorder)
	defer n.close()
	ev.ingest(t, n, half, events)
	total := ev.total

	count := func(sql string) int64 { return n.exec(t, sql).Rows[0][0].(int64) }
	wm := count("SELECT epoch_ms(max(ts)) FROM events") - disorder.Milliseconds()
	wantWm := time.UnixMilli(wm).UTC().Format(time.RFC3339Nano)
	deadline := time.Now().Add(30 * time.Second)
	all := func() int64 { return int64(total) }
	for _, v := range []string{"best", "ranked", "dense", "latest", "firsts", "classes", "class_windows", "error_users", "kinds", "recent", "cte_winners__m", "sub_totals__sub1"} {
		n.caughtUp(t, v, all, wantWm, deadline)
	}
	n.caughtUp(t, "first_counts", func() int64 { return count("SELECT count(*) FROM firsts") }, wantWm, deadline)
	n.caughtUp(t, "cte_winners", func() int64 { return int64(total) + count("SELECT count(*) FROM cte_winners__m") }, wantWm, deadline)
	n.caughtUp(t, "sub_totals", func() int64 { return n.showView(t, "sub_totals__sub1")["rows_out"].(int64) }, wantWm, deadline)

	setup := fmt.Sprintf("partitions %d, disorder %s, N %d", partitions, disorder, k)
	compare := func(name, view, oracle string) { t.Helper(); n.matches(t, name, view, oracle, setup) }
	compare("Top-N", `SELECT user_id, rn, seq, status FROM best`, fmt.Sprintf(`SELECT * FROM (
		SELECT user_id, row_number() OVER (PARTITION BY user_id ORDER BY status DESC, seq) AS rn, seq, status FROM events) WHERE rn <= %d`, k))
	compare("RANK", `SELECT user_id, rk, seq, status FROM ranked`, `SELECT * FROM (
		SELECT user_id, rank() OVER (PARTITION BY user_id ORDER BY status % 7 DESC) AS rk, seq, status FROM events) WHERE rk <= 3`)
	compare("windowed DENSE_RANK", `SELECT epoch_ms(t), cls, seq, rk FROM dense`, fmt.Sprintf(`SELECT * FROM (
		SELECT epoch_ms(ts) // 2000 * 2000 + 2000 AS t, status %% 4 AS cls, seq,
		  dense_rank() OVER (PARTITION BY epoch_ms(ts) // 2000 ORDER BY status %% 4) AS rk
		FROM events) WHERE rk <= 2 AND t <= %d`, wm))
	compare("deduplication", `SELECT epoch_ms(ts), seq, user_id, status, r FROM latest`, `SELECT epoch_ms(ts), seq, user_id, status, 1 FROM (
		SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY ts DESC, seq DESC) AS r FROM events) WHERE r = 1`)
	firsts := fmt.Sprintf(`SELECT * FROM (
		SELECT epoch_ms(ts) // 2000 * 2000 + 2000 AS t, status / 100 AS cls, seq,
		  row_number() OVER (PARTITION BY epoch_ms(ts) // 2000, status / 100 ORDER BY status, seq) AS rn
		FROM events WHERE user_id <> 'u0') WHERE rn < 3 AND t <= %d`, wm)
	compare("windowed Top-N", `SELECT epoch_ms(t), cls, seq, rn FROM firsts`, firsts)
	compare("a view over a windowed Top-N", `SELECT epoch_ms(s), n, total FROM first_counts`, fmt.Sprintf(`
		SELECT t // 10000 * 10000 AS s, count(*), sum(seq) FROM (%s) GROUP BY 1 HAVING s + 10000 <= %d`, firsts, wm))
	compare("subquery", `SELECT cls, n, hi FROM classes`, `SELECT status / 100, count(*), max(seq) FROM events
		WHERE status > 250 AND status / 100 <> 4 GROUP BY 1`)
	compare("windowed subquery", `SELECT epoch_ms(window_start), cls, n FROM class_windows`, fmt.Sprintf(`
		SELECT epoch_ms(ts) // 2000 * 2000 AS s, status %% 7, count(*) FROM events GROUP BY 1, 2 HAVING s + 2000 <= %d`, wm))
	compare("WITH", `SELECT u, n, mx FROM error_users`, `SELECT user_id, count(*), max(status) FROM events WHERE status >= 450 GROUP BY 1`)
	compare("window over WITH", `SELECT epoch_ms(window_start), k, n, total FROM kinds`, fmt.Sprintf(`
		SELECT epoch_ms(ts) // 2000 * 2000 AS s, status %% 5, count(*), sum(seq) FROM events WHERE status < 450 GROUP BY 1, 2 HAVING s + 2000 <= %d`, wm))
	compare("an aggregating subquery (a step)", `SELECT users, total FROM sub_totals`, `SELECT count(DISTINCT user_id), count(*) FROM events`)
	top := fmt.Sprintf(`SELECT epoch_ms(ts) // 1000 * 1000 + 1000 AS t, max(status) AS mx FROM events GROUP BY 1 HAVING t <= %d`, wm)
	compare("an aggregating WITH query joined (a step)", `SELECT seq, status, epoch_ms(t) FROM cte_winners`, fmt.Sprintf(`
		SELECT e.seq, e.status, m.t FROM events e JOIN (%s) m ON e.status = m.mx AND epoch_ms(e.ts) >= m.t - 1000 AND epoch_ms(e.ts) < m.t`, top))
	if o := n.showView(t, "cte_winners__m")["origin"]; o != "step of cte_winners" {
		t.Fatalf("a step's origin: %v", o)
	}
	if n.views.Rebuilt("cte_winners__m") || n.views.Rebuilt("sub_totals__sub1") {
		t.Fatal("the steps were rebuilt by the restart; their SQL did not change")
	}
	compare("Top-N in WITH", `SELECT user_id, seq FROM recent`, `SELECT user_id, seq FROM (
		SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY seq DESC) AS rn FROM events) WHERE rn <= 2`)
	// Dropping the view drops its steps.
	n.exec(t, `DROP MATERIALIZED VIEW cte_winners`)
	for _, r := range n.exec(t, "SHOW VIEWS").Rows {
		if r[0] == "cte_winners__m" {
			t.Fatal("the step outlived its view")
		}
	}
}

// TestRankKeepsTies: RANK and DENSE_RANK over records that arrive over
// many commits: ties at the bound are all kept, and rows a better one
// pushes out are deleted from the table.
func TestRankKeepsTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 3))
	n := newNode(t, t.TempDir(), 2, time.Second)
	defer n.close()
	n.exec(t, `CREATE MATERIALIZED VIEW ranked AS SELECT user_id, rk, seq FROM (
		SELECT user_id, seq, RANK() OVER (PARTITION BY user_id ORDER BY status % 5 DESC) AS rk FROM events) r WHERE rk <= 2`)
	n.exec(t, `CREATE MATERIALIZED VIEW dense AS SELECT user_id, rk, seq FROM (
		SELECT user_id, seq, DENSE_RANK() OVER (PARTITION BY user_id ORDER BY status % 5 DESC) AS rk FROM events) r WHERE rk <= 2`)
	ev := newRandomEvents(rng, 3, 50, time.Second)
	for i := 0; i < 400; i += 10 {
		ev.ingest(t, n, i, i+10)
		time.Sleep(8 * time.Millisecond) // a commit between the batches
	}
	wm := n.exec(t, "SELECT epoch_ms(max(ts)) FROM events").Rows[0][0].(int64) - 1000
	wantWm := time.UnixMilli(wm).UTC().Format(time.RFC3339Nano)
	deadline := time.Now().Add(30 * time.Second)
	for _, v := range []string{"ranked", "dense"} {
		n.caughtUp(t, v, func() int64 { return int64(ev.total) }, wantWm, deadline)
	}
	n.matches(t, "RANK", `SELECT user_id, rk, seq FROM ranked`, `SELECT * FROM (
		SELECT user_id, rank() OVER (PARTITION BY user_id ORDER BY status % 5 DESC) AS rk, seq FROM events) WHERE rk <= 2`, "")
	n.matches(t, "DENSE_RANK", `SELECT user_id, rk, seq FROM dense`, `SELECT * FROM (
		SELECT user_id, dense_rank() OVER (PARTITION BY user_id ORDER BY status % 5 DESC) AS rk, seq FROM events) WHERE rk <= 2`, "")

	// One key, over commits: three tied rows, then two better ones push
	// them past rank 2; the table must lose them.
	base := time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC).UnixMilli()
	for i, status := range []int{203, 208, 213, 204, 209} {
		body := fmt.Sprintf(`{"ts":%d,"seq":%d,"user_id":"solo","status":%d}`+"\n", base+int64(i), 1000+i, status)
		if res, err := n.gate.Ingest(context.Background(), gate.Request{Stream: "events", Format: gate.NDJSON, Body: []byte(body)}); err != nil || res.Accepted != 1 {
			t.Fatalf("%v %+v", err, res)
		}
		deadline := time.Now().Add(10 * time.Second)
		for n.showView(t, "ranked")["rows_in"] != int64(ev.total+i+1) {
			if time.Now().After(deadline) {
				t.Fatal("ranked did not read the record")
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // committed before the next
	}
	n.matches(t, "RANK after rows were pushed out", `SELECT rk, seq FROM ranked WHERE user_id = 'solo'`, `SELECT 1, 1003 UNION ALL SELECT 1, 1004`, "")
}
