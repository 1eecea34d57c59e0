package node

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/weirhq/weir/internal/serve"
)

var pgYAML = eventsYAML(2) + `sinks:
  lake:
    type: lake
    stream: events
    roll: {max_rows: 500, interval: 100ms}
`

// startPGNode starts a node with the Postgres protocol on a free port.
func startPGNode(t *testing.T, password string, tlsConfig *tls.Config) *Node {
	t.Helper()
	cfg := testConfig(t, t.TempDir(), pgYAML, nil)
	cfg.PGListen, cfg.PGPassword, cfg.TLS = "127.0.0.1:0", password, tlsConfig
	return startWith(t, cfg)
}

func pgConnect(t *testing.T, n *Node, params string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, "postgres://weir@"+n.PGAddr()+"/weir?"+params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// TestPostgresQueries talks to the node with pgx, in the extended protocol
// (parameters, binary results) and the simple one: results equal an
// oracle computed from the events posted, over lake files and tail alike.
func TestPostgresQueries(t *testing.T) {
	n := startPGNode(t, "", nil)
	const total = 3000
	if code, _, body := post(t, n, events(0, total)); code != 200 {
		t.Fatalf("ingest: %d %s", code, body)
	}
	// Oracle, from events(): seq i, user u(i%50), ts 1795000000000+i ms.
	const from = 1234
	wantN, wantSum := map[string]int64{}, map[string]int64{}
	wantLast := map[string]time.Time{}
	for i := from; i < total; i++ {
		u := "u" + itoa(i%50)
		wantN[u]++
		wantSum[u] += int64(i)
		wantLast[u] = time.UnixMilli(1795000000000 + int64(i)).UTC()
	}
	ctx := context.Background()
	const q = `SELECT user_id, count(*) AS n, sum(seq) AS s, max(ts) AS last FROM events WHERE seq >= $1 GROUP BY user_id ORDER BY user_id`
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeSimpleProtocol} {
		c := pgConnect(t, n, "")
		rows, err := c.Query(ctx, q, mode, int64(from))
		if err != nil {
			t.Fatalf("mode %v: %v", mode, err)
		}
		fds := rows.FieldDescriptions()
		wantOIDs := []uint32{pgtype.TextOID, pgtype.Int8OID, pgtype.NumericOID, pgtype.TimestamptzOID}
		for i, fd := range fds {
			if fd.DataTypeOID != wantOIDs[i] {
				t.Errorf("mode %v: column %s has type OID %d, want %d", mode, fd.Name, fd.DataTypeOID, wantOIDs[i])
			}
		}
		got := 0
		for rows.Next() {
			var user string
			var cnt int64
			var sum pgtype.Numeric
			var last time.Time
			if err := rows.Scan(&user, &cnt, &sum, &last); err != nil {
				t.Fatalf("mode %v: %v", mode, err)
			}
			s, _ := sum.Int64Value()
			if cnt != wantN[user] || s.Int64 != wantSum[user] || !last.Equal(wantLast[user]) {
				t.Errorf("mode %v: %s: got n=%d s=%d last=%v, want %d %d %v", mode, user, cnt, s.Int64, last, wantN[user], wantSum[user], wantLast[user])
			}
			got++
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("mode %v: %v", mode, err)
		}
		if got != len(wantN) {
			t.Errorf("mode %v: %d groups, want %d", mode, got, len(wantN))
		}
		if tag := rows.CommandTag().String(); tag != "SELECT 50" {
			t.Errorf("mode %v: command tag %q, want SELECT 50", mode, tag)
		}
	}
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }

// TestPostgresTypes checks that each DuckDB type arrives as its Postgres
// counterpart, in binary (extended protocol) and text (simple) formats.
func TestPostgresTypes(t *testing.T) {
	n := startPGNode(t, "", nil)
	ctx := context.Background()
	const q = `SELECT 7::TINYINT AS i2, 70000::INTEGER AS i4, 9000000000::BIGINT AS i8, 1.5::FLOAT AS f4, 2.25::DOUBLE AS f8,
	  12345.678::DECIMAL(12,3) AS dec, 'héllo' AS txt, true AS b, DATE '2026-01-02' AS d, TIME '13:14:15.5' AS tm,
	  TIMESTAMP '2026-01-02 03:04:05.123456' AS ts, TIMESTAMPTZ '2026-01-02 03:04:05+00' AS tstz,
	  INTERVAL 3 DAY + INTERVAL 4 HOUR AS iv, [1, 2, 3] AS list, {'a': 1, 'b': 'x'} AS rec,
	  '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::UUID AS id, 18446744073709551615::UBIGINT AS u8, NULL::VARCHAR AS nothing,
	  'ab'::BLOB AS blob`
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		c := pgConnect(t, n, "")
		var (
			i2       int16
			i4       int32
			i8       int64
			f4       float32
			f8       float64
			dec, u8  pgtype.Numeric
			txt      string
			b        bool
			d, ts    time.Time
			tstz     time.Time
			tm       pgtype.Time
			iv       pgtype.Interval
			list     []int
			rec      map[string]any
			id       pgtype.UUID
			nothing  *string
			blob     []byte
			wantUUID = [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
		)
		err := c.QueryRow(ctx, q, mode).Scan(&i2, &i4, &i8, &f4, &f8, &dec, &txt, &b, &d, &tm, &ts, &tstz, &iv, &list, &rec, &id, &u8, &nothing, &blob)
		if err != nil {
			t.Fatalf("mode %v: %v", mode, err)
		}
		decF, _ := dec.Float64Value()
		u8s, _ := u8.Value()
		check := func(name string, ok bool, got any) {
			t.Helper()
			if !ok {
				t.Errorf("mode %v: %s = %v", mode, name, got)
			}
		}
		check("i2", i2 == 7, i2)
		check("i4", i4 == 70000, i4)
		check("i8", i8 == 9000000000, i8)
		check("f4", f4 == 1.5, f4)
		check("f8", f8 == 2.25, f8)
		check("dec", decF.Float64 == 12345.678 && dec.Exp == -3, dec)
		check("txt", txt == "héllo", txt)
		check("b", b, b)
		check("d", d.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)), d)
		check("tm", tm.Microseconds == (13*3600+14*60+15)*1e6+500000, tm)
		check("ts", ts.Equal(time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)), ts)
		check("tstz", tstz.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), tstz)
		check("iv", iv.Days == 3 && iv.Microseconds == 4*3600e6, iv)
		check("list", len(list) == 3 && list[2] == 3, list)
		check("rec", rec["a"] == float64(1) && rec["b"] == "x", rec)
		check("id", id.Valid && id.Bytes == wantUUID, id)
		check("u8", u8s == "18446744073709551615", u8s)
		check("nothing", nothing == nil, nothing)
		check("blob", string(blob) == "ab", blob)
	}
}

// TestPostgresStatements covers what else a client sends: session
// statements, view DDL, errors with their SQLSTATE, results past the HTTP
// API's row limit, and cancellation.
func TestPostgresStatements(t *testing.T) {
	n := startPGNode(t, "", nil)
	if code, _, body := post(t, n, events(0, 100)); code != 200 {
		t.Fatalf("ingest: %d %s", code, body)
	}
	ctx := context.Background()
	c := pgConnect(t, n, "")
	for _, s := range []string{"SET application_name = 'grafana'", "BEGIN", "COMMIT", "ROLLBACK", "DISCARD ALL", "RESET ALL"} {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}

	tag, err := c.Exec(ctx, `CREATE MATERIALIZED VIEW per_user AS SELECT user_id, count(*) AS n FROM events GROUP BY user_id`)
	if err != nil || tag.String() != "CREATE MATERIALIZED VIEW" {
		t.Fatalf("create view: tag %q, %v", tag, err)
	}
	var views []string
	rows, _ := c.Query(ctx, "SHOW VIEWS")
	for rows.Next() {
		vals, _ := rows.Values()
		views = append(views, vals[0].(string))
	}
	if err := rows.Err(); err != nil || len(views) != 1 || views[0] != "per_user" {
		t.Fatalf("SHOW VIEWS: %v, %v", views, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var total int64
		if err := c.QueryRow(ctx, "SELECT coalesce(sum(n), 0)::BIGINT FROM per_user").Scan(&total); err != nil {
			t.Fatal(err)
		}
		if total == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("view per_user counts %d events, want 100", total)
		}
		time.Sleep(50 * time.Millisecond)
	}

	fails := func(sql, code, msg string) {
		t.Helper()
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
			_, err := c.Exec(ctx, sql, mode)
			if pgCode(err) != code || !strings.Contains(err.Error(), msg) {
				t.Errorf("%s (mode %v): error %v (SQLSTATE %q), want SQLSTATE %s and %q", sql, mode, err, pgCode(err), code, msg)
			}
		}
	}
	fails("SELECT * FROM nope", "42P01", "nope")
	fails("SELEC 1", "42601", "syntax error")
	fails("SELECT nope FROM events", "42703", "nope")
	fails("SELECT no_such_fn(1)", "42883", "no_such_fn")
	fails("UPDATE events SET seq = 1", "25006", "only read-only queries")
	fails("ATTACH ':memory:' AS x", "25006", "only read-only queries")
	fails("SELECT * FROM read_csv('/etc/passwd')", "42501", "Permission Error")
	fails("CREATE TABLE t AS SELECT 1", "42000", "expected MATERIALIZED VIEW after CREATE")
	fails("SELECT 'x'::INTEGER", "22P02", "Conversion Error")
	fails("CREATE MATERIALIZED VIEW bad AS SELECT nope FROM events", "42000", "nope")
	if _, err := c.PgConn().Prepare(ctx, "", "SELECT 1; SELECT 2", nil); pgCode(err) != "42601" {
		t.Errorf("two statements in one prepared statement: %v, want SQLSTATE 42601", err)
	}
	// The connection is still usable after errors.
	var one int32
	if err := c.QueryRow(ctx, "SELECT 1::INTEGER").Scan(&one); err != nil || one != 1 {
		t.Fatalf("after errors: %d, %v", one, err)
	}

	// A multi-statement simple query runs in order and stops at the first error.
	mrr := c.PgConn().Exec(ctx, "SELECT 1 AS a; SELECT 2 AS b; SELECT * FROM nope; SELECT 4")
	results, err := mrr.ReadAll()
	if pgCode(err) != "42P01" || len(results) != 2 || string(results[1].Rows[0][0]) != "2" {
		t.Fatalf("script: %d results, %v", len(results), err)
	}

	// In a script, a result past the row limit is an error, not a cut, and
	// COPY is refused as it is alone.
	for script, code := range map[string]string{
		"SELECT 1; SELECT i FROM range(100001) t(i)":   "54000",
		"SELECT 1; COPY (SELECT 1) TO STDOUT WITH CSV": "0A000",
	} {
		if _, err := c.PgConn().Exec(ctx, script).ReadAll(); pgCode(err) != code {
			t.Errorf("%s: %v, want SQLSTATE %s", script, err, code)
		}
	}

	// Streamed results have no row limit.
	var count int
	rows, err = c.Query(ctx, "SELECT i FROM range(250000) t(i)")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		count++
	}
	if rows.Err() != nil || count != 250000 {
		t.Fatalf("range(250000): %d rows, %v", count, rows.Err())
	}

	// A cancel request stops a long query with 57014.
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, "SELECT count(*) FROM range(100000000000) a, range(1000) b")
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := c.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if pgCode(err) != "57014" {
			t.Fatalf("canceled query: %v, want SQLSTATE 57014", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the canceled query still runs after 20 s")
	}
	if err := c.QueryRow(ctx, "SELECT 1::INTEGER").Scan(&one); err != nil {
		t.Fatalf("after cancel: %v", err)
	}
}

// TestPostgresAuth: a password, when set, is required; TLS is offered.
func TestPostgresAuth(t *testing.T) {
	n := startPGNode(t, "s3cret", selfSigned(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, bad := range []string{"", "wrong"} {
		_, err := pgx.Connect(ctx, "postgres://weir:"+bad+"@"+n.PGAddr()+"/weir?sslmode=require")
		if pgCode(err) != "28P01" {
			t.Errorf("password %q: %v, want SQLSTATE 28P01", bad, err)
		}
	}
	c, err := pgx.Connect(ctx, "postgres://weir:s3cret@"+n.PGAddr()+"/weir?sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, ok := c.PgConn().Conn().(*tls.Conn); !ok {
		t.Errorf("connection is %T, want TLS", c.PgConn().Conn())
	}
	var one int32
	if err := c.QueryRow(ctx, "SELECT 1::INTEGER").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query over TLS: %d, %v", one, err)
	}
	// The same certificate serves the HTTP API as HTTPS.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Get("https://" + n.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("https /healthz: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
}

func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// BenchmarkPostgresQuery: a small aggregate over 10k fresh events through
// pgx (extended protocol: Describe, then Run) and straight through the
// engine, to show what the protocol adds per query.
//
//	go test -run='^$' -bench=BenchmarkPostgresQuery -benchtime=300x ./internal/node/
func BenchmarkPostgresQuery(b *testing.B) {
	cfg := testConfig(b, b.TempDir(), pgYAML, nil)
	cfg.PGListen = "127.0.0.1:0"
	n, err := Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	resp, err := http.Post("http://"+n.Addr()+"/v1/streams/events/events", "application/x-ndjson", bytes.NewReader(events(0, 10000)))
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("ingest: %v", err)
	}
	resp.Body.Close()
	const q = "SELECT user_id, count(*) FROM events WHERE seq >= $1 GROUP BY 1"
	ctx := context.Background()
	b.Run("pgx", func(b *testing.B) {
		c, err := pgx.Connect(ctx, "postgres://weir@"+n.PGAddr()+"/weir")
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close(ctx)
		for range b.N {
			rows, err := c.Query(ctx, q, pgx.QueryExecModeDescribeExec, int64(100))
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
			}
			if rows.Err() != nil {
				b.Fatal(rows.Err())
			}
		}
	})
	b.Run("engine", func(b *testing.B) {
		for range b.N {
			if _, err := n.Run(ctx, serve.Statement{SQL: q, Args: []any{int64(100)}, Native: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
