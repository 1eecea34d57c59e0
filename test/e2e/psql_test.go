package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// psqlBin finds psql, which `make e2e` installs (Debian package
// postgresql-client) when it is missing.
func psqlBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("psql")
	if err != nil {
		t.Fatal("psql is not installed: run `make e2e` (it installs it) or `apt-get install postgresql-client`")
	}
	return p
}

// psql runs psql against the node with a script on stdin and returns what it
// printed (unaligned, tuples only) and its exit error.
func psql(t *testing.T, pg, password, script string, args ...string) (string, error) {
	t.Helper()
	host, port, _ := net.SplitHostPort(pg)
	cmd := exec.Command(psqlBin(t), append([]string{"-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "analyst", "weir"}, args...)...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10")
	cmd.Dir = t.TempDir() // where \copy would write
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestPsql points the real psql at the real binary: password auth, a query
// over fresh data equal to the oracle, a view created and read through
// psql, and errors with their SQLSTATE.
func TestPsql(t *testing.T) {
	const password = "correct horse"
	n := newTestNode(t, "WEIR_PG_PASSWORD="+password)
	const eventsPer, batches = 200, 10
	for i := range batches {
		resp, err := http.Post("http://"+n.addr+"/v1/streams/clicks/events", "application/x-ndjson", bytes.NewReader(batch(i, eventsPer)))
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("ingest batch %d: %d", i, resp.StatusCode)
		}
	}
	o := oracleFor(batches, eventsPer)

	if out, err := psql(t, n.p.pg, "wrong", "SELECT 1;"); err == nil || !strings.Contains(out, "invalid username/password") {
		t.Fatalf("wrong password: psql printed %q, %v; want a refusal", out, err)
	}

	out, err := psql(t, n.p.pg, password, `
SELECT count(*), sum(seq), sum(status), count(DISTINCT user_id) FROM clicks;
CREATE MATERIALIZED VIEW by_status AS SELECT status, count(*) AS n FROM clicks GROUP BY status;
`)
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	want := fmt.Sprintf("%d|%d|%d|%d", o.accepted, o.sumSeq, o.sumStatus, o.users)
	if first := strings.SplitN(out, "\n", 2)[0]; first != want {
		t.Fatalf("psql printed %q, want %q first", out, want)
	}

	// The view catches up; its rows add up to the stream's.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err = psql(t, n.p.pg, password, "SELECT coalesce(sum(n), 0) FROM by_status;")
		if err != nil {
			t.Fatalf("psql: %v\n%s", err, out)
		}
		if strings.TrimSpace(out) == fmt.Sprint(o.accepted) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("view by_status sums to %q, want %d", out, o.accepted)
		}
		time.Sleep(100 * time.Millisecond)
	}

	out, err = psql(t, n.p.pg, password, "\\set VERBOSITY verbose\nSELECT nope FROM clicks;")
	if err == nil || !strings.Contains(out, "42703") {
		t.Fatalf("a bad column: psql printed %q, %v; want SQLSTATE 42703", out, err)
	}

	// A CSV export of the whole stream has every row; COPY ... TO STDOUT
	// (psql's \copy) is refused with what to do instead.
	out, err = psql(t, n.p.pg, password, "SELECT seq FROM clicks ORDER BY seq;", "--csv")
	if err != nil {
		t.Fatalf("psql --csv: %v\n%s", err, out)
	}
	if lines := strings.Count(out, "\n"); lines != o.accepted {
		t.Fatalf("psql --csv printed %d rows, want %d", lines, o.accepted)
	}
	out, err = psql(t, n.p.pg, password, "\\copy (SELECT seq FROM clicks) TO 'x.csv' WITH CSV\n")
	if err == nil || !strings.Contains(out, "psql --csv") {
		t.Fatalf("\\copy: psql printed %q, %v; want a refusal that says what to use", out, err)
	}
}
