package view

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestViewsOverChangelogsMatchBatchSQL: continuous aggregates over a
// continuous aggregate (an upsert view) equal DuckDB's nested GROUP BY
// over the raw table, across a node restart and the upstream's changelog
// rewrites: each key's previous row is taken back out of its group, a
// group whose last row left is deleted, and a filter sees rows move in
// and out.
func TestViewsOverChangelogsMatchBatchSQL(t *testing.T) {
	forSeeds(t, checkChangelogs, []uint64{61, 62})
}

func checkChangelogs(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 29))
	partitions := 1 + rng.IntN(4)
	disorder := time.Duration(1+rng.IntN(3)) * time.Second
	testChangelogLimit = 50 + rng.IntN(200)
	defer func() { testChangelogLimit = 0 }()
	dir := t.TempDir()
	n := newNode(t, dir, partitions, disorder)
	for _, s := range []string{
		`CREATE MATERIALIZED VIEW per_user AS SELECT user_id, count(*) AS n, sum(status) AS s FROM events GROUP BY user_id`,
		`CREATE MATERIALIZED VIEW buckets AS SELECT n % 5 AS bucket, count(*) AS users, sum(s) AS total, avg(n) AS mean FROM per_user GROUP BY n % 5`,
		`CREATE MATERIALIZED VIEW busy AS SELECT count(*) AS users, sum(n) AS clicks FROM per_user WHERE n > 3`,
		`CREATE MATERIALIZED VIEW user_sets AS SELECT DISTINCT n FROM per_user`,
		// Top-N over a changelog: a user's rank changes with each click,
		// it moves between groups (n % 3), and when it leaves the first
		// three the next one takes its place.
		`CREATE MATERIALIZED VIEW leaders AS SELECT grp, user_id, n, rn FROM (
		   SELECT n % 3 AS grp, user_id, n, ROW_NUMBER() OVER (PARTITION BY n % 3 ORDER BY s DESC, user_id) AS rn FROM per_user) t
		 WHERE rn <= 3`,
		`CREATE MATERIALIZED VIEW top_ranks AS SELECT user_id, n, rk FROM (
		   SELECT user_id, n, RANK() OVER (ORDER BY n DESC) AS rk FROM per_user WHERE n > 1) t
		 WHERE rk <= 4`,
		// Ranked by the key itself: an update keeps its rank and is
		// replaced in place (only that rank is rewritten).
		`CREATE MATERIALIZED VIEW first_users AS SELECT user_id, n, s, rn FROM (
		   SELECT user_id, n, s, ROW_NUMBER() OVER (ORDER BY user_id) AS rn FROM per_user) t
		 WHERE rn <= 4`,
		`CREATE MATERIALIZED VIEW first_sum AS SELECT sum(n) AS n, sum(s) AS s, count(*) AS c FROM first_users`,
		// q6's shape: an average over the ranked rows of a changelog.
		`CREATE MATERIALIZED VIEW top_mean AS SELECT grp, avg(n) AS mean, count(*) AS c FROM (
		   SELECT grp, n FROM (SELECT n % 2 AS grp, n, ROW_NUMBER() OVER (PARTITION BY n % 2 ORDER BY s, user_id) AS rn FROM per_user) r
		   WHERE rn <= 2) t
		 GROUP BY grp`,
	} {
		n.exec(t, s)
	}
	n.refuses(t, [][2]string{
		{`CREATE MATERIALIZED VIEW x AS SELECT max(n) AS m FROM per_user`, `max(n) cannot take a value back: use count, sum or avg`},
		{`CREATE MATERIALIZED VIEW x AS SELECT user_id FROM per_user`, `view "per_user" updates its rows: a view reading it must aggregate them`},
		{`CREATE MATERIALIZED VIEW x AS SELECT count(*) AS c FROM TABLE(TUMBLE(TABLE per_user, DESCRIPTOR(n), INTERVAL '1' SECOND)) GROUP BY window_start, window_end`, `a window over view "per_user", which updates its rows`},
		{`CREATE MATERIALIZED VIEW x AS SELECT count(*) AS c FROM events e JOIN per_user p ON e.user_id = p.user_id`, `a join reads views that append rows; view "per_user" updates its rows`},
	})

	var plan []string
	for _, r := range n.exec(t, `EXPLAIN CREATE MATERIALIZED VIEW y AS SELECT user_id FROM (SELECT user_id, ROW_NUMBER() OVER (ORDER BY n) AS rn FROM per_user) t WHERE rn <= 2`).Rows {
		plan = append(plan, r[0].(string))
	}
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "ties: by the row key of per_user") || !strings.Contains(text, "holding every current row of per_user") {
		t.Fatalf("EXPLAIN of a Top-N over a changelog:\n%s", text)
	}

	ev := newRandomEvents(rng, 5+rng.IntN(20), 120, disorder)
	events := 800 + rng.IntN(800)
	half := events / 2
	ev.ingest(t, n, 0, half)
	time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
	n.close()
	n = newNode(t, dir, partitions, disorder)
	defer n.close()
	ev.ingest(t, n, half, events)

	count := func(sql string) int64 { return n.exec(t, sql).Rows[0][0].(int64) }
	wm := count("SELECT epoch_ms(max(ts)) FROM events") - disorder.Milliseconds()
	wantWm := time.UnixMilli(wm).UTC().Format(time.RFC3339Nano)
	deadline := time.Now().Add(30 * time.Second)
	n.caughtUp(t, "per_user", func() int64 { return int64(ev.total) }, wantWm, deadline)
	changes := func() int64 { return n.showView(t, "per_user")["rows_out"].(int64) }
	for _, v := range []string{"buckets", "busy", "user_sets", "leaders", "top_ranks", "top_mean__sub1", "first_users"} {
		n.caughtUp(t, v, changes, wantWm, deadline)
	}
	n.caughtUp(t, "first_sum", func() int64 { return n.showView(t, "first_users")["rows_out"].(int64) }, wantWm, deadline)
	n.caughtUp(t, "top_mean", func() int64 { return n.showView(t, "top_mean__sub1")["rows_out"].(int64) }, wantWm, deadline)
	setup := fmt.Sprintf("partitions %d, disorder %s, changelog limit %d", partitions, disorder, testChangelogLimit)
	compare := func(name, view, oracle string) { t.Helper(); n.matches(t, name, view, oracle, setup) }
	perUser := `(SELECT user_id, count(*) AS n, sum(status) AS s FROM events GROUP BY user_id)`
	compare("aggregate over a changelog", `SELECT bucket, users, total, mean FROM buckets`,
		`SELECT n % 5, count(*), sum(s), avg(n) FROM `+perUser+` GROUP BY 1`)
	compare("filter over a changelog", `SELECT users, clicks FROM busy`, `SELECT count(*), sum(n) FROM `+perUser+` WHERE n > 3`)
	compare("DISTINCT over a changelog", `SELECT n FROM user_sets`, `SELECT DISTINCT n FROM `+perUser)
	compare("Top-N over a changelog", `SELECT grp, user_id, n, rn FROM leaders`,
		`SELECT * FROM (SELECT n % 3, user_id, n, row_number() OVER (PARTITION BY n % 3 ORDER BY s DESC, user_id) AS rn FROM `+perUser+`) WHERE rn <= 3`)
	compare("RANK over a changelog", `SELECT user_id, n, rk FROM top_ranks`,
		`SELECT * FROM (SELECT user_id, n, rank() OVER (ORDER BY n DESC) AS rk FROM `+perUser+` WHERE n > 1) WHERE rk <= 4`)
	firstUsers := `SELECT * FROM (SELECT user_id, n, s, row_number() OVER (ORDER BY user_id) AS rn FROM ` + perUser + `) WHERE rn <= 4`
	compare("a Top-N over a changelog whose rows keep their rank", `SELECT user_id, n, s, rn FROM first_users`, firstUsers)
	compare("an aggregate over it", `SELECT n, s, c FROM first_sum`, `SELECT sum(n), sum(s), count(*) FROM (`+firstUsers+`)`)
	compare("an aggregate over a Top-N over a changelog", `SELECT grp, mean, c FROM top_mean`,
		`SELECT grp, avg(n), count(*) FROM (SELECT n % 2 AS grp, n, row_number() OVER (PARTITION BY n % 2 ORDER BY s, user_id) AS rn FROM `+perUser+`) WHERE rn <= 2 GROUP BY grp`)
}
