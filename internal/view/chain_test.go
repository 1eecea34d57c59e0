package view

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/weirhq/weir/internal/sql/parse"
)

// TestViewsOverViewsMatchBatchSQL: views reading other views — a second
// aggregation over a windowed one, a stream joined with a window's max
// (Nexmark q7's shape), and a window over a filtering view — and SELECT
// DISTINCT, continuous and per window, equal
// DuckDB's batch answers over the raw table, across a node restart, with
// no record late anywhere.
func TestViewsOverViewsMatchBatchSQL(t *testing.T) {
	forSeeds(t, checkChains, []uint64{31, 32})
}

func checkChains(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 13))
	partitions := 1 + rng.IntN(4)
	disorder := time.Duration(1+rng.IntN(3)) * time.Second
	dir := t.TempDir()
	n := newNode(t, dir, partitions, disorder)
	size := []int{1, 2}[rng.IntN(2)]
	ddl := []string{
		fmt.Sprintf(`CREATE MATERIALIZED VIEW per_user AS
		SELECT user_id, window_end AS t, count(*) AS n, max(status) AS mx
		FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '%d' SECOND)) GROUP BY user_id, window_start, window_end`, size),
		`CREATE MATERIALIZED VIEW rollup AS
		SELECT window_start AS s, count(*) AS users, sum(n) AS n, max(mx) AS mx
		FROM TABLE(TUMBLE(TABLE per_user, DESCRIPTOR(t), INTERVAL '10' SECOND)) GROUP BY window_start, window_end`,
		fmt.Sprintf(`CREATE MATERIALIZED VIEW top AS
		SELECT window_end AS t, max(status) AS mx
		FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '%d' SECOND)) GROUP BY window_start, window_end`, size),
		fmt.Sprintf(`CREATE MATERIALIZED VIEW winners AS
		SELECT e.seq, e.status, m.t FROM events e JOIN top m
		  ON e.status = m.mx AND e.ts >= m.t - INTERVAL '%d' SECOND AND e.ts < m.t`, size),
		`CREATE MATERIALIZED VIEW errors AS SELECT seq, ts, user_id FROM events WHERE status >= 400`,
		`CREATE MATERIALIZED VIEW mixed AS SELECT seq, ts, user_id FROM errors
		 UNION ALL SELECT seq, ts, user_id FROM events WHERE status < 250`,
		`CREATE MATERIALIZED VIEW mixed_counts AS SELECT window_start AS s, count(*) AS n, sum(seq) AS total
		FROM TABLE(TUMBLE(TABLE mixed, DESCRIPTOR(ts), INTERVAL '2' SECOND)) GROUP BY window_start, window_end`,
		`CREATE MATERIALIZED VIEW classes AS SELECT DISTINCT user_id, status % 3 AS class FROM events`,
		`CREATE MATERIALIZED VIEW active AS SELECT DISTINCT window_start, user_id FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND))`,
		`CREATE MATERIALIZED VIEW error_counts AS
		SELECT user_id, window_start AS s, count(*) AS n, max(seq) AS hi
		FROM TABLE(HOP(TABLE errors, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND)) GROUP BY user_id, window_start, window_end`,
	}
	for _, s := range ddl {
		n.exec(t, s)
	}
	// What may not be: dropping or replacing a view others read, reading
	// a view that rewrites its rows, or one without event time.
	for _, c := range [][2]string{
		{`DROP MATERIALIZED VIEW per_user`, `view "per_user" is read by "rollup"; drop it first`},
		{`CREATE OR REPLACE MATERIALIZED VIEW top AS SELECT window_end AS t, min(status) AS mx FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end`, `view "top" is read by "winners"; drop it first, then replace it`},
		{`CREATE MATERIALIZED VIEW c AS SELECT user_id, count(*) AS n FROM events GROUP BY user_id`, ``},
		{`CREATE MATERIALIZED VIEW cc AS SELECT user_id FROM c`, `view "c" updates its rows: a view reading it must aggregate them`},
		{`CREATE MATERIALIZED VIEW nt AS SELECT seq FROM events`, ``},
		// A window without aggregates writes each row as it comes: readable.
		{`CREATE MATERIALIZED VIEW tagged AS SELECT seq, ts, window_start AS w FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND))`, ``},
		{`CREATE MATERIALIZED VIEW tagged_counts AS SELECT count(*) AS n FROM TABLE(TUMBLE(TABLE tagged, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end`, ``},
		{`CREATE MATERIALIZED VIEW ws AS SELECT window_start, window_end, count(*) AS n FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end`, ``},
		{`CREATE MATERIALIZED VIEW wws AS SELECT sum(n) AS n FROM TABLE(TUMBLE(TABLE ws, DESCRIPTOR(window_end), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end`,
			`"ws" has a column named window_start, and a window over it adds its own window_start and window_end: rename the column in "ws" (e.g. window_start AS window_start_prev)`},
		{`CREATE MATERIALIZED VIEW u AS SELECT seq FROM events UNION ALL SELECT user_id FROM events`, `column 1 of UNION ALL (seq) is BIGINT in the first SELECT and VARCHAR in the second; CAST one to the other`},
		{`CREATE MATERIALIZED VIEW u AS SELECT seq, ts FROM events UNION ALL SELECT seq FROM events`, `the SELECTs of UNION ALL have 2 and 1 columns; they need the same number`},
		{`CREATE MATERIALIZED VIEW u AS SELECT count(*) AS n FROM events UNION ALL SELECT seq FROM events`, `aggregates inside UNION ALL are not supported; make the UNION ALL a view and aggregate over it`},
		{`CREATE MATERIALIZED VIEW nnt AS SELECT count(*) AS k FROM TABLE(TUMBLE(TABLE nt, DESCRIPTOR(seq), INTERVAL '1' SECOND)) GROUP BY window_start`, `view "nt" has no event-time column for the views reading it: select its event-time column "ts" as it is`},
	} {
		stmt, want := c[0], c[1]
		st, err := parse.Parse(stmt)
		if err != nil {
			t.Fatal(err)
		}
		_, err = n.views.Exec(context.Background(), st)
		switch {
		case want == "" && err != nil:
			t.Fatalf("%s: %v", stmt, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Fatalf("%s: got %v, want an error saying %q", stmt, err, want)
		}
	}
	n.exec(t, `DROP MATERIALIZED VIEW c`)
	n.exec(t, `DROP MATERIALIZED VIEW nt`)
	n.exec(t, `DROP MATERIALIZED VIEW ws`)
	n.exec(t, `DROP MATERIALIZED VIEW tagged_counts`)
	n.exec(t, `DROP MATERIALIZED VIEW tagged`)

	ev := newRandomEvents(rng, 2+rng.IntN(10), 120, disorder)
	events := 800 + rng.IntN(800)
	half := events / 2
	ev.ingest(t, n, 0, half)
	time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
	n.close()
	n = newNode(t, dir, partitions, disorder) // every view resumes, readers after what they read
	defer n.close()
	ev.ingest(t, n, half, events)
	total := ev.total

	count := func(sql string) int64 { return n.exec(t, sql).Rows[0][0].(int64) }
	maxTs := count("SELECT epoch_ms(max(ts)) FROM events")
	wm := maxTs - disorder.Milliseconds()
	// The filtering view's readers see its rows' times, and its watermark.
	wantWm := time.UnixMilli(wm).UTC().Format(time.RFC3339Nano)
	deadline := time.Now().Add(30 * time.Second)
	wait := func(v string, in func() int64) { t.Helper(); n.caughtUp(t, v, in, wantWm, deadline) }
	all := func() int64 { return int64(total) }
	wait("per_user", all)
	wait("top", all)
	wait("errors", all)
	wait("mixed", func() int64 { return count("SELECT count(*) FROM errors") + int64(total) })
	wait("mixed_counts", func() int64 { return count("SELECT count(*) FROM mixed") })
	wait("classes", all)
	wait("active", all)
	wait("rollup", func() int64 { return count("SELECT count(*) FROM per_user") })
	wait("winners", func() int64 { return int64(total) + count("SELECT count(*) FROM top") })
	wait("error_counts", func() int64 { return count("SELECT count(*) FROM errors") })

	setup := fmt.Sprintf("partitions %d, disorder %s, window %ds", partitions, disorder, size)
	compare := func(name, view, oracle string) { t.Helper(); n.matches(t, name, view, oracle, setup) }
	perUser := fmt.Sprintf(`SELECT user_id, epoch_ms(ts) // %[1]d * %[1]d + %[1]d AS t, count(*) AS n, max(status) AS mx
		FROM events GROUP BY 1, 2 HAVING t <= %[2]d`, size*1000, wm)
	compare("per_user", `SELECT user_id, epoch_ms(t), n, mx FROM per_user`, perUser)
	compare("rollup", `SELECT epoch_ms(s), users, n, mx FROM rollup`, fmt.Sprintf(`
		SELECT t // 10000 * 10000 AS s, count(*), sum(n), max(mx) FROM (%s) GROUP BY 1 HAVING s + 10000 <= %d`, perUser, wm))
	top := fmt.Sprintf(`SELECT epoch_ms(ts) // %[1]d * %[1]d + %[1]d AS t, max(status) AS mx FROM events GROUP BY 1 HAVING t <= %[2]d`, size*1000, wm)
	compare("winners", `SELECT seq, status, epoch_ms(t) FROM winners`, fmt.Sprintf(`
		SELECT e.seq, e.status, m.t FROM events e JOIN (%s) m ON e.status = m.mx
		  AND epoch_ms(e.ts) >= m.t - %d AND epoch_ms(e.ts) < m.t`, top, size*1000))
	compare("UNION ALL", `SELECT seq, epoch_ms(ts), user_id FROM mixed`, `SELECT seq, epoch_ms(ts), user_id FROM events WHERE status >= 400 OR status < 250`)
	compare("window over UNION ALL", `SELECT epoch_ms(s), n, total FROM mixed_counts`, fmt.Sprintf(`
		SELECT epoch_ms(ts) // 2000 * 2000 AS s, count(*), sum(seq) FROM events WHERE status >= 400 OR status < 250
		GROUP BY 1 HAVING s + 2000 <= %d`, wm))
	compare("DISTINCT", `SELECT user_id, class FROM classes`, `SELECT DISTINCT user_id, status % 3 FROM events`)
	compare("windowed DISTINCT", `SELECT epoch_ms(window_start), user_id FROM active`, fmt.Sprintf(`
		SELECT DISTINCT epoch_ms(ts) // 2000 * 2000 AS s, user_id FROM events WHERE epoch_ms(ts) // 2000 * 2000 + 2000 <= %d`, wm))
	compare("errors", `SELECT seq, epoch_ms(ts), user_id FROM errors`, `SELECT seq, epoch_ms(ts), user_id FROM events WHERE status >= 400`)
	compare("error_counts", `SELECT user_id, epoch_ms(s), n, hi FROM error_counts`, fmt.Sprintf(`
		SELECT user_id, w.s, count(*), max(seq) FROM events,
		  (SELECT unnest(range(epoch_ms(ts) // 1000 * 1000 - 2000, epoch_ms(ts) // 1000 * 1000 + 1, 1000)) AS s) w
		WHERE status >= 400 GROUP BY 1, 2 HAVING w.s + 3000 <= %d`, wm))
}

// TestFileViewsOverViews: file views start after the views they read,
// whatever the file order; a view reading a rebuilt view is rebuilt too;
// views reading each other in a cycle are an error that names them.
func TestFileViewsOverViews(t *testing.T) {
	file := func(name, sql string) FileView {
		st, err := parse.Parse(sql)
		if err != nil {
			t.Fatal(err)
		}
		return FileView{Stmt: st.(*parse.CreateView), File: "views/" + name + ".sql"}
	}
	minutes := func(agg string) FileView {
		return file("minutes", `CREATE MATERIALIZED VIEW minutes AS SELECT window_end AS t, `+agg+` AS n
			FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end`)
	}
	peak := file("peak", `CREATE MATERIALIZED VIEW peak AS SELECT window_end AS t, max(n) AS most
		FROM TABLE(TUMBLE(TABLE minutes, DESCRIPTOR(t), INTERVAL '10' SECOND)) GROUP BY window_start, window_end`)
	dir := t.TempDir()
	n := newNodeWith(t, dir, 2, time.Second, []FileView{peak, minutes("count(*)")})
	if n.views.Plan("peak") == nil || n.views.Plan("minutes") == nil {
		t.Fatal("both views should run")
	}
	n.close()
	// The same SQL: nothing is rebuilt.
	n = newNodeWith(t, dir, 2, time.Second, []FileView{peak, minutes("count(*)")})
	if n.views.Rebuilt("minutes") || n.views.Rebuilt("peak") {
		t.Fatal("unchanged views were rebuilt")
	}
	n.close()
	n = newNodeWith(t, dir, 2, time.Second, []FileView{peak, minutes("sum(status)")})
	if !n.views.Rebuilt("minutes") || !n.views.Rebuilt("peak") {
		t.Fatalf("minutes changed: it and its reader peak should be rebuilt (minutes %v, peak %v)", n.views.Rebuilt("minutes"), n.views.Rebuilt("peak"))
	}
	n.close()

	a := file("a", `CREATE MATERIALIZED VIEW a AS SELECT window_end AS t, count(*) AS n FROM TABLE(TUMBLE(TABLE b, DESCRIPTOR(t), INTERVAL '1' SECOND)) GROUP BY window_start, window_end`)
	b := file("b", `CREATE MATERIALIZED VIEW b AS SELECT window_end AS t, count(*) AS n FROM TABLE(TUMBLE(TABLE a, DESCRIPTOR(t), INTERVAL '1' SECOND)) GROUP BY window_start, window_end`)
	n = newNodeWith(t, t.TempDir(), 1, time.Second, nil)
	defer n.close()
	err := n.views.Start(context.Background(), []FileView{a, b})
	if err == nil || !strings.Contains(err.Error(), "views read each other in a cycle: a → b → a") {
		t.Fatalf("got %v, want the cycle named", err)
	}
}

// TestFileViewSteps: a file view whose WITH query aggregates runs it as a
// step of its own; the same SQL after a restart reuses the step, changed
// SQL rebuilds it, and a view gone from the files takes its step along.
func TestFileViewSteps(t *testing.T) {
	file := func(sql string) FileView {
		st, err := parse.Parse(sql)
		if err != nil {
			t.Fatal(err)
		}
		return FileView{Stmt: st.(*parse.CreateView), File: "views/peaks.sql"}
	}
	peaks := func(agg string) FileView {
		return file(`CREATE MATERIALIZED VIEW peaks AS WITH s AS (SELECT window_end AS t, ` + agg + ` AS n
			FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end)
			SELECT window_start, max(n) AS most FROM TABLE(TUMBLE(TABLE s, DESCRIPTOR(t), INTERVAL '10' SECOND)) GROUP BY window_start, window_end`)
	}
	dir := t.TempDir()
	n := newNodeWith(t, dir, 2, time.Second, []FileView{peaks("count(*)")})
	if n.views.Plan("peaks__s") == nil || n.views.Plan("peaks") == nil {
		t.Fatal("the view and its step should run")
	}
	n.close()
	n = newNodeWith(t, dir, 2, time.Second, []FileView{peaks("count(*)")})
	if n.views.Rebuilt("peaks__s") || n.views.Rebuilt("peaks") {
		t.Fatal("unchanged SQL was rebuilt")
	}
	n.close()
	n = newNodeWith(t, dir, 2, time.Second, []FileView{peaks("sum(status)")})
	if !n.views.Rebuilt("peaks__s") || !n.views.Rebuilt("peaks") {
		t.Fatalf("the step changed: it and its view are rebuilt (step %v, view %v)", n.views.Rebuilt("peaks__s"), n.views.Rebuilt("peaks"))
	}
	n.close()
	n = newNodeWith(t, dir, 2, time.Second, nil)
	defer n.close()
	if n.views.Plan("peaks__s") != nil || n.views.Plan("peaks") != nil {
		t.Fatal("the view left views/: its step should be gone too")
	}
}
