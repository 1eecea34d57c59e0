package view

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestParallelViewsMatchBatchSQL: views run with PARALLELISM (partial
// tasks over shares of the partitions, a repartition stream, merge tasks)
// equal DuckDB's batch answers over the raw table across a node restart:
// windowed aggregates re-keyed away from the stream key, a continuous
// aggregate with one hot group, a stateless filter, and a view reading a
// parallel view.
func TestParallelViewsMatchBatchSQL(t *testing.T) {
	forSeeds(t, checkParallel, []uint64{7, 8})
}

func checkParallel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 29))
	partitions := 2 + rng.IntN(3)
	disorder := time.Duration(1+rng.IntN(3)) * time.Second
	dir := t.TempDir()
	n := newNode(t, dir, partitions, disorder)
	tasks := 2 + rng.IntN(2)
	ddl := []string{
		fmt.Sprintf(`CREATE MATERIALIZED VIEW per_class AS
		SELECT window_start AS ws, status %% 7 AS cls, count(*) AS n, sum(seq) AS total, count(DISTINCT user_id) AS users, min(seq) AS lo
		FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '2' SECOND))
		GROUP BY window_start, window_end, status %% 7
		PARALLELISM %d`, tasks),
		fmt.Sprintf(`CREATE MATERIALIZED VIEW hopping AS
		SELECT window_end, user_id, count(*) AS n, max(status) AS hi
		FROM TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND))
		WHERE status < 450
		GROUP BY window_start, window_end, user_id
		PARALLELISM %d`, tasks),
		// Nine in ten records in one group: pre-aggregation keeps the
		// repartition stream small whatever the skew.
		fmt.Sprintf(`CREATE MATERIALIZED VIEW skewed AS
		SELECT CASE WHEN status < 470 THEN 'hot' ELSE user_id END AS k, count(*) AS n, sum(status) AS s
		FROM events GROUP BY 1 PARALLELISM %d`, tasks),
		fmt.Sprintf(`CREATE MATERIALIZED VIEW errors AS
		SELECT seq, user_id, status FROM events WHERE status >= 400 PARALLELISM %d`, tasks),
		`CREATE MATERIALIZED VIEW class_totals AS
		SELECT window_start, count(*) AS classes, sum(n) AS n
		FROM TABLE(TUMBLE(TABLE per_class, DESCRIPTOR(ws), INTERVAL '10' SECOND))
		GROUP BY window_start, window_end`,
	}
	for _, s := range ddl {
		n.exec(t, s)
	}
	n.refuses(t, [][2]string{
		{`CREATE MATERIALIZED VIEW x AS SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts) AS rn FROM events) r WHERE rn <= 2 PARALLELISM 2`,
			`PARALLELISM 2 cannot run Top-N on more than one task yet`},
		{`CREATE MATERIALIZED VIEW x AS SELECT a.seq FROM events a JOIN events b ON a.seq = b.seq AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '1' SECOND PARALLELISM 2`,
			`cannot run a join on more than one task yet`},
	})
	var plan []string
	for _, r := range n.exec(t, `EXPLAIN CREATE MATERIALIZED VIEW y AS SELECT user_id, count(*) AS c FROM events GROUP BY user_id PARALLELISM 3`).Rows {
		plan = append(plan, r[0].(string))
	}
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "y__repart (3 partitions, by a hash of the group key) feeds 3 merge tasks") {
		t.Fatalf("EXPLAIN of a parallel view:\n%s", text)
	}

	ev := newRandomEvents(rng, 3+rng.IntN(20), 60, disorder)
	events := 1500 + rng.IntN(1500)
	half := events / 2
	for i := 0; i < half; i += 100 {
		ev.ingest(t, n, i, min(i+100, half))
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
	}
	n.close()
	n = newNode(t, dir, partitions, disorder)
	defer n.close()
	ev.ingest(t, n, half, events)

	count := func(sql string) int64 { return n.exec(t, sql).Rows[0][0].(int64) }
	wm := count("SELECT epoch_ms(max(ts)) FROM events") - disorder.Milliseconds()
	wantWm := time.UnixMilli(wm).UTC().Format(time.RFC3339Nano)
	deadline := time.Now().Add(30 * time.Second)
	all := func() int64 { return int64(ev.total) }
	for _, v := range []string{"per_class", "hopping", "skewed", "errors"} {
		n.caughtUp(t, v, all, wantWm, deadline)
	}
	// A window over window_start trails per_class by its window size.
	n.caughtUp(t, "class_totals", func() int64 { return n.showView(t, "per_class")["rows_out"].(int64) },
		time.UnixMilli(wm-2000).UTC().Format(time.RFC3339Nano), deadline)

	// Lag counts input and repartition records still to read: none, once
	// the tasks have read the last markers.
	for _, v := range []string{"per_class", "hopping", "skewed", "errors"} {
		for lag := n.showView(t, v)["lag"]; lag != int64(0); lag = n.showView(t, v)["lag"] {
			if time.Now().After(deadline) {
				t.Fatalf("%s caught up, yet SHOW VIEWS says lag %v", v, lag)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	setup := fmt.Sprintf("partitions %d, disorder %s, parallelism %d", partitions, disorder, tasks)
	compare := func(name, view, oracle string) { t.Helper(); n.matches(t, name, view, oracle, setup) }
	compare("re-keyed TUMBLE", `SELECT epoch_ms(ws), cls, n, total, users, lo FROM per_class`, fmt.Sprintf(`
		SELECT epoch_ms(ts) // 2000 * 2000 AS s, status %% 7, count(*), sum(seq), count(DISTINCT user_id), min(seq)
		FROM events GROUP BY 1, 2 HAVING s + 2000 <= %d`, wm))
	compare("HOP", `SELECT epoch_ms(window_end), user_id, n, hi FROM hopping`, fmt.Sprintf(`
		SELECT e, user_id, count(*), max(status) FROM (
		  SELECT epoch_ms(ts) // 1000 * 1000 + 1000 * k AS e, user_id, status FROM events, range(1, 4) r(k) WHERE status < 450)
		GROUP BY 1, 2 HAVING e <= %d`, wm))
	compare("a hot key", `SELECT k, n, s FROM skewed`, `SELECT CASE WHEN status < 470 THEN 'hot' ELSE user_id END, count(*), sum(status) FROM events GROUP BY 1`)
	compare("stateless", `SELECT seq, user_id, status FROM errors`, `SELECT seq, user_id, status FROM events WHERE status >= 400`)
	compare("a view over a parallel view", `SELECT epoch_ms(window_start), classes, n FROM class_totals`, fmt.Sprintf(`
		SELECT s // 10000 * 10000 AS w, count(*), sum(c) FROM (
		  SELECT epoch_ms(ts) // 2000 * 2000 AS s, status %% 7, count(*) AS c FROM events GROUP BY 1, 2 HAVING s + 2000 <= %d)
		GROUP BY 1 HAVING w + 10000 <= %d`, wm, wm-2000))
}
