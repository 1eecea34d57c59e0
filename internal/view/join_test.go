package view

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestJoinsMatchBatchSQL: interval, LEFT interval, window and regular
// joins over a random stream (disorder within the bound, several
// partitions, a node restart half way) equal DuckDB's batch joins over
// the raw table: every pair once, and LEFT JOIN's unmatched rows once the
// watermark shows no match can come.
func TestJoinsMatchBatchSQL(t *testing.T) {
	forSeeds(t, checkJoins, []uint64{21, 22})
}

func checkJoins(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 11))
	partitions := 1 + rng.IntN(4)
	disorder := time.Duration(1+rng.IntN(4)) * time.Second
	dir := t.TempDir()
	n := newNode(t, dir, partitions, disorder)
	before, after := 1+rng.IntN(4), 1+rng.IntN(4) // the interval, seconds
	size := []int{2, 5}[rng.IntN(2)]
	n.exec(t, fmt.Sprintf(`CREATE MATERIALIZED VIEW ij AS
		SELECT a.seq AS l, b.seq AS r, a.user_id, b.status
		FROM events a JOIN events b ON a.user_id = b.user_id
		  AND b.ts BETWEEN a.ts - INTERVAL '%d' SECOND AND a.ts + INTERVAL '%d' SECOND AND a.seq <> b.seq
		WHERE a.status < 300 AND b.status >= 300`, before, after))
	n.exec(t, fmt.Sprintf(`CREATE MATERIALIZED VIEW lj AS
		SELECT a.seq AS l, b.seq AS r
		FROM events a LEFT JOIN events b ON a.user_id = b.user_id AND b.status >= 450
		  AND b.ts > a.ts AND b.ts <= a.ts + INTERVAL '%d' SECOND
		WHERE a.status < 250`, after))
	n.exec(t, fmt.Sprintf(`CREATE MATERIALIZED VIEW wj AS
		SELECT a.user_id, window_start, window_end, count(*) AS n, sum(b.status) AS s, max(a.seq) AS hi
		FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '%[1]d' SECOND)) a
		JOIN TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '%[1]d' SECOND)) b
		  ON a.user_id = b.user_id AND a.window_start = b.window_start AND a.window_end = b.window_end
		WHERE b.status >= 400
		GROUP BY a.user_id, window_start, window_end`, size))
	ttl := 1 + rng.IntN(3)
	n.exec(t, fmt.Sprintf(`CREATE MATERIALIZED VIEW tj AS
		SELECT a.seq AS l, b.seq AS r FROM events a JOIN events b ON a.user_id = b.user_id AND a.status %% 5 = b.status %% 5
		STATE TTL INTERVAL '%d' SECOND`, ttl))
	n.exec(t, `CREATE MATERIALIZED VIEW rj AS
		SELECT a.user_id, count(*) AS n, sum(b.seq) AS s
		FROM events a JOIN events b ON a.user_id = b.user_id AND a.status % 3 = b.status % 3
		GROUP BY a.user_id`)

	ev := newRandomEvents(rng, 2+rng.IntN(12), 200, disorder)
	events := 600 + rng.IntN(600)
	half := events / 2
	ev.ingest(t, n, 0, half)
	time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
	n.close()
	n = newNode(t, dir, partitions, disorder) // the views resume from their committed state
	defer n.close()
	ev.ingest(t, n, half, events)
	total := ev.total

	maxTs := n.exec(t, "SELECT epoch_ms(max(ts)) FROM events").Rows[0][0].(int64)
	wm := maxTs - disorder.Milliseconds()
	wantWm := time.UnixMilli(wm).UTC().Format(time.RFC3339Nano)
	deadline := time.Now().Add(30 * time.Second)
	for _, v := range []string{"ij", "lj", "wj", "rj", "tj"} {
		n.caughtUp(t, v, func() int64 { return int64(2 * total) }, wantWm, deadline)
	}
	setup := fmt.Sprintf("partitions %d, disorder %s, interval -%ds..%ds, window %ds", partitions, disorder, before, after, size)
	compare := func(name, view, oracle string) { t.Helper(); n.matches(t, name, view, oracle, setup) }
	compare("interval join", `SELECT l, r, user_id, status FROM ij`, fmt.Sprintf(`
		SELECT a.seq, b.seq, a.user_id, b.status FROM events a JOIN events b ON a.user_id = b.user_id
		  AND b.ts BETWEEN a.ts - INTERVAL %d SECOND AND a.ts + INTERVAL %d SECOND AND a.seq <> b.seq
		WHERE a.status < 300 AND b.status >= 300`, before, after))
	// A left row is decided once the watermark passes its time + the interval.
	compare("LEFT interval join", fmt.Sprintf(`SELECT lj.l, lj.r FROM lj JOIN events e ON e.seq = lj.l WHERE epoch_ms(e.ts) + %d < %d`, after*1000, wm), fmt.Sprintf(`
		SELECT a.seq, b.seq FROM events a LEFT JOIN events b ON a.user_id = b.user_id AND b.status >= 450
		  AND b.ts > a.ts AND b.ts <= a.ts + INTERVAL %d SECOND
		WHERE a.status < 250 AND epoch_ms(a.ts) + %d < %d`, after, after*1000, wm))
	// Pairs of undecided left rows are there too, and nothing else.
	if c := n.exec(t, `SELECT count(*) FROM lj WHERE r IS NOT NULL`).Rows[0][0].(int64); c != n.exec(t, fmt.Sprintf(`
		SELECT count(*) FROM events a JOIN events b ON a.user_id = b.user_id AND b.status >= 450
		  AND b.ts > a.ts AND b.ts <= a.ts + INTERVAL %d SECOND WHERE a.status < 250`, after)).Rows[0][0].(int64) {
		t.Fatalf("LEFT join: %d matched pairs, not the batch join's", c)
	}
	compare("window join", `SELECT user_id, epoch_ms(window_start), epoch_ms(window_end), n, s, hi FROM wj`, fmt.Sprintf(`
		SELECT a.user_id, epoch_ms(a.ts) // %[1]d * %[1]d AS ws, epoch_ms(a.ts) // %[1]d * %[1]d + %[1]d AS we, count(*), sum(b.status), max(a.seq)
		FROM events a JOIN events b ON a.user_id = b.user_id AND epoch_ms(a.ts) // %[1]d = epoch_ms(b.ts) // %[1]d
		WHERE b.status >= 400 GROUP BY 1, 2, 3 HAVING we <= %[2]d`, size*1000, wm))
	compare("regular join with STATE TTL", `SELECT l, r FROM tj`, fmt.Sprintf(`
		SELECT a.seq, b.seq FROM events a JOIN events b ON a.user_id = b.user_id AND a.status %% 5 = b.status %% 5
		  AND abs(epoch_ms(b.ts) - epoch_ms(a.ts)) <= %d`, ttl*1000))
	compare("regular join", `SELECT user_id, n, s FROM rj`, `
		SELECT a.user_id, count(*), sum(b.seq) FROM events a JOIN events b ON a.user_id = b.user_id AND a.status % 3 = b.status % 3
		GROUP BY 1`)
}
