package nexmark

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	gen "github.com/weirhq/weir/internal/connect/nexmark"
	"github.com/weirhq/weir/internal/schema"
)

// batchSQL is each query as DuckDB computes it over the whole input at
// once: the oracle. Columns as the view's, times as epoch milliseconds.
var batchSQL = map[string]string{
	"q3": `SELECT p.name, p.city, p.state, a.id FROM auction a JOIN person p ON a.seller = p.id
	  WHERE a.category = 10 AND (p.state = 'OR' OR p.state = 'ID' OR p.state = 'CA')`,
	"q8": `SELECT p.id, p.name, epoch_ms(p.dateTime) // 10000 * 10000 AS starttime
	  FROM person p JOIN auction a ON p.id = a.seller AND epoch_ms(p.dateTime) // 10000 = epoch_ms(a.dateTime) // 10000
	  GROUP BY 1, 2, 3`,
	"q0": `SELECT auction, bidder, price, epoch_ms(dateTime), extra FROM bid`,
	"q1": `SELECT auction, bidder, 0.908::DOUBLE * price, epoch_ms(dateTime), extra FROM bid`,
	"q2": `SELECT auction, price FROM bid WHERE auction % 123 = 0`,
	// Sessions as gaps and islands: a bid 10 s or more after the previous
	// one of the same bidder starts a new session.
	"q11": `WITH s AS (
	  SELECT bidder, dateTime, CASE WHEN dateTime - lag(dateTime) OVER (PARTITION BY bidder ORDER BY dateTime) < INTERVAL 10 SECOND THEN 0 ELSE 1 END AS new FROM bid),
	g AS (SELECT bidder, dateTime, sum(new) OVER (PARTITION BY bidder ORDER BY dateTime ROWS UNBOUNDED PRECEDING) AS sid FROM s)
	SELECT bidder, count(*), epoch_ms(min(dateTime)), epoch_ms(max(dateTime) + INTERVAL 10 SECOND) FROM g GROUP BY bidder, sid`,
	"q14": `SELECT auction, bidder, 0.908::DOUBLE * price,
	  CASE WHEN hour(dateTime) >= 8 AND hour(dateTime) <= 18 THEN 'dayTime'
	       WHEN hour(dateTime) <= 6 OR hour(dateTime) >= 20 THEN 'nightTime' ELSE 'otherTime' END,
	  epoch_ms(dateTime), extra, length(extra) - length(replace(extra, 'c', ''))
	FROM bid WHERE 0.908::DOUBLE * price > 1000000 AND 0.908::DOUBLE * price < 50000000`,
	"q15": `SELECT epoch_ms(date_trunc('day', dateTime)), count(*),
	  sum(CASE WHEN price < 10000 THEN 1 ELSE 0 END), sum(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 ELSE 0 END),
	  sum(CASE WHEN price >= 1000000 THEN 1 ELSE 0 END),
	  count(DISTINCT bidder), count(DISTINCT CASE WHEN price < 10000 THEN bidder END),
	  count(DISTINCT CASE WHEN price >= 10000 AND price < 1000000 THEN bidder END), count(DISTINCT CASE WHEN price >= 1000000 THEN bidder END),
	  count(DISTINCT auction), count(DISTINCT CASE WHEN price < 10000 THEN auction END),
	  count(DISTINCT CASE WHEN price >= 10000 AND price < 1000000 THEN auction END), count(DISTINCT CASE WHEN price >= 1000000 THEN auction END)
	FROM bid GROUP BY date_trunc('day', dateTime)`,
	"q21": `SELECT auction, bidder, price, channel,
	  CASE WHEN lower(channel) = 'apple' THEN '0' WHEN lower(channel) = 'google' THEN '1'
	       WHEN lower(channel) = 'facebook' THEN '2' WHEN lower(channel) = 'baidu' THEN '3'
	       ELSE regexp_extract(url, '(&|^)channel_id=([^&]*)', 2) END
	FROM bid WHERE regexp_extract(url, '(&|^)channel_id=([^&]*)', 2) <> '' OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu')`,
	"q22": `SELECT auction, bidder, price, channel, split_part(url, '/', 4), split_part(url, '/', 5), split_part(url, '/', 6) FROM bid`,
	"q16": `SELECT channel, epoch_ms(date_trunc('day', dateTime)), max(strftime(dateTime, '%H:%M')), count(*),
	  sum(CASE WHEN price < 10000 THEN 1 ELSE 0 END), sum(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 ELSE 0 END),
	  sum(CASE WHEN price >= 1000000 THEN 1 ELSE 0 END),
	  count(DISTINCT bidder), count(DISTINCT CASE WHEN price < 10000 THEN bidder END),
	  count(DISTINCT CASE WHEN price >= 10000 AND price < 1000000 THEN bidder END), count(DISTINCT CASE WHEN price >= 1000000 THEN bidder END),
	  count(DISTINCT auction), count(DISTINCT CASE WHEN price < 10000 THEN auction END),
	  count(DISTINCT CASE WHEN price >= 10000 AND price < 1000000 THEN auction END), count(DISTINCT CASE WHEN price >= 1000000 THEN auction END)
	FROM bid GROUP BY channel, date_trunc('day', dateTime)`,
	"q5": `WITH c AS (
	    SELECT auction, w.s, count(*) AS num FROM bid,
	      (SELECT unnest(range(epoch_ms(dateTime) // 2000 * 2000 - 8000, epoch_ms(dateTime) // 2000 * 2000 + 1, 2000)) AS s) w
	    GROUP BY 1, 2),
	  m AS (SELECT s, max(num) AS maxnum FROM c GROUP BY s)
	SELECT c.auction, c.num FROM c JOIN m ON c.s = m.s AND c.num = m.maxnum`,
	"q7": `WITH m AS (SELECT epoch_ms(dateTime) // 10000 * 10000 + 10000 AS wend, max(price) AS maxprice FROM bid GROUP BY 1)
	SELECT b.auction, b.price, b.bidder, epoch_ms(b.dateTime) FROM bid b JOIN m ON b.price = m.maxprice
	  AND epoch_ms(b.dateTime) >= m.wend - 10000 AND epoch_ms(b.dateTime) < m.wend`,
	"q9": `SELECT id, itemName, description, initialBid, reserve, epoch_ms(dateTime), epoch_ms(expires), seller, category, extra,
	    auction, bidder, price, epoch_ms(bid_dateTime), bid_extra FROM (
	  SELECT a.*, b.auction, b.bidder, b.price, b.dateTime AS bid_dateTime, b.extra AS bid_extra,
	    row_number() OVER (PARTITION BY a.id ORDER BY b.price DESC, b.dateTime, b.rowid) AS rn
	  FROM auction a JOIN bid b ON a.id = b.auction AND b.dateTime BETWEEN a.dateTime AND a.expires) WHERE rn = 1`,
	"q20": `SELECT b.auction, b.bidder, b.price, b.channel, b.url, epoch_ms(b.dateTime), b.extra, a.itemName, a.description, a.initialBid, a.reserve,
	    epoch_ms(a.dateTime), epoch_ms(a.expires), a.seller, a.category, a.extra FROM bid b JOIN auction a ON b.auction = a.id WHERE a.category = 10`,
	"q10": `SELECT auction, bidder, price, epoch_ms(dateTime), extra, strftime(dateTime, '%Y-%m-%d'), strftime(dateTime, '%H:%M') FROM bid`,
	"q4": `SELECT category, avg(final) FROM (
	  SELECT a.id, a.category, max(b.price) AS final FROM auction a JOIN bid b ON a.id = b.auction AND b.dateTime BETWEEN a.dateTime AND a.expires
	  GROUP BY a.id, a.category) GROUP BY category`,
	"q6": `WITH w AS (SELECT a.id, a.seller, a.expires, max(b.price) AS final FROM auction a JOIN bid b ON a.id = b.auction AND b.dateTime BETWEEN a.dateTime AND a.expires
	    GROUP BY a.id, a.seller, a.expires),
	  r AS (SELECT seller, final, row_number() OVER (PARTITION BY seller ORDER BY expires DESC, id DESC) AS rn FROM w)
	SELECT seller, avg(final) FROM r WHERE rn <= 10 GROUP BY seller`,
	"q13": `SELECT b.auction, b.bidder, b.price, epoch_ms(b.dateTime), s.value FROM bid b JOIN side_input s ON b.auction % 10000 = s.key`,
	// Ties rank by input position: insertion order, DuckDB's rowid here.
	"q18": `SELECT auction, bidder, price, channel, url, epoch_ms(dateTime), extra FROM (
	  SELECT *, row_number() OVER (PARTITION BY bidder, auction ORDER BY dateTime DESC, rowid) AS rn FROM bid) WHERE rn <= 1`,
	"q19": `SELECT auction, bidder, price, channel, url, epoch_ms(dateTime), extra, rn FROM (
	  SELECT *, row_number() OVER (PARTITION BY auction ORDER BY price DESC, rowid) AS rn FROM bid) WHERE rn <= 10`,
	"q17": `SELECT auction, epoch_ms(date_trunc('day', dateTime)), count(*),
	  sum(CASE WHEN price < 10000 THEN 1 ELSE 0 END), sum(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 ELSE 0 END),
	  sum(CASE WHEN price >= 1000000 THEN 1 ELSE 0 END), min(price), max(price), avg(price), sum(price)
	FROM bid GROUP BY auction, date_trunc('day', dateTime)`,
}

// TestQueriesMatchBatchSQL runs every query over generated events, with
// the event time spread over three days (so daily windows close), and
// compares its table with DuckDB's answer over the same events; at
// parallelism 1 and 2 (two partitions per stream, two generators, and
// parallel tasks for the views that can have them).
func TestQueriesMatchBatchSQL(t *testing.T) {
	const events = 30_000
	// Three days of event time (daily windows close), and for the queries
	// over 10-second windows of people and auctions, five minutes.
	sparse, dense := float64(events)/(3*86400), 100.0
	dbs := map[float64]*sql.DB{sparse: loadEvents(t, events, sparse), dense: loadEvents(t, events, dense)}
	for _, q := range Queries() {
		for _, par := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/p%d", q, par), func(t *testing.T) {
				oracle, ok := batchSQL[q]
				if !ok {
					t.Fatalf("no batch SQL for %s: add it to batchSQL", q)
				}
				rate := sparse
				if denseQueries[q] {
					rate = dense
				}
				var out bytes.Buffer
				res, err := Run(context.Background(), Options{Query: q, Events: events, Seed: 5, Rate: rate, Dir: t.TempDir(), CSV: &out, Parallelism: par})
				if err != nil {
					t.Fatal(err)
				}
				if lakeQueries[q] && (res.LakeRows != res.OutRows || res.LakeFiles == 0) {
					t.Fatalf("the lake sink committed %d rows in %d files; the view wrote %d", res.LakeRows, res.LakeFiles, res.OutRows)
				}
				got, err := csv.NewReader(&out).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				want := query(t, dbs[rate], oracle)
				if len(got)-1 != len(want) {
					t.Fatalf("%d rows, DuckDB has %d", len(got)-1, len(want))
				}
				for i := range want {
					if !slices.Equal(got[i+1], want[i]) {
						t.Fatalf("row %d:\n got  %v\n want %v", i, got[i+1], want[i])
					}
				}
				if len(want) == 0 {
					t.Fatal("the query has no rows: the test compares nothing")
				}
			})
		}
	}
}

// denseQueries run over events five minutes of event time apart, not
// three days: their 10-second windows would hold too few events.
var denseQueries = map[string]bool{"q5": true, "q7": true, "q8": true}

// loadEvents writes the generated events into tables person, auction and
// bid of a new in-memory DuckDB.
func loadEvents(t *testing.T, events int64, rate float64) *sql.DB {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	for _, ddl := range []string{
		`CREATE TABLE person (id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR, state VARCHAR, dateTime TIMESTAMP, extra VARCHAR)`,
		`CREATE TABLE auction (id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT, dateTime TIMESTAMP, expires TIMESTAMP, seller BIGINT, category BIGINT, extra VARCHAR)`,
		`CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, dateTime TIMESTAMP, extra VARCHAR)`,
		fmt.Sprintf(`CREATE TABLE side_input AS SELECT range AS key, 'side-' || range AS value FROM range(%d)`, SideInputRows),
	} {
		if _, err := db.Exec(ddl); err != nil {
			t.Fatal(err)
		}
	}
	g := gen.New(gen.Config{Seed: 5, Rate: rate})
	var e gen.Event
	tx, _ := db.Begin()
	var ins [3]*sql.Stmt
	for k, q := range []string{`INSERT INTO person VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, `INSERT INTO auction VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, `INSERT INTO bid VALUES (?, ?, ?, ?, ?, ?, ?)`} {
		if ins[k], err = tx.Prepare(q); err != nil {
			t.Fatal(err)
		}
	}
	ms := func(v int64) time.Time { return time.UnixMilli(v).UTC() }
	for n := int64(0); n < events; n++ {
		g.Event(n, &e)
		switch e.Kind {
		case gen.KindPerson:
			p := &e.Person
			_, err = ins[0].Exec(p.ID, p.Name, p.EmailAddress, p.CreditCard, p.City, p.State, ms(p.DateTime), p.Extra)
		case gen.KindAuction:
			a := &e.Auction
			_, err = ins[1].Exec(a.ID, a.ItemName, a.Description, a.InitialBid, a.Reserve, ms(a.DateTime), ms(a.Expires), a.Seller, a.Category, a.Extra)
		case gen.KindBid:
			b := &e.Bid
			_, err = ins[2].Exec(b.Auction, b.Bidder, b.Price, b.Channel, b.URL, ms(b.DateTime), b.Extra)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return db
}

// query runs an oracle query and formats its rows as the CSV does, sorted.
func query(t *testing.T, db *sql.DB, q string) [][]string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		line := make([]string, len(cols))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
			case float64:
				line[i] = FormatValue(schema.Float64, schema.Value{Float: x})
			case string:
				line[i] = x
			default:
				line[i] = strings.TrimSpace(fmt.Sprint(x))
			}
		}
		out = append(out, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b []string) int { return slices.Compare(a, b) })
	return out
}

// BenchmarkQueries runs each query over 1M events (for profiles:
// go test -run='^$' -bench=Queries/q2 -cpuprofile cpu.prof ./bench/nexmark/).
func BenchmarkQueries(b *testing.B) {
	for _, q := range Queries() {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				res, err := Run(context.Background(), Options{Query: q, Events: 1_000_000, Seed: 1, Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.EventsPerCPUSecond(), "events/cpu-s")
			}
		})
	}
}
