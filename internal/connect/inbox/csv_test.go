package inbox

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/weirhq/weir/internal/connect"
	"github.com/weirhq/weir/internal/schema"
)

// readAll runs a file through the source's checks and reads every batch,
// as the source would: the problem that rejects it, or its JSON records
// and the rows refused.
func readAll(t testing.TB, src *Source, path string) (p *problem, records []string, refused int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	r, err := src.reader(f, filepath.Base(path), info.Size())
	if err != nil {
		return &problem{rule: "format", reason: err.Error()}, nil, 0
	}
	if p := r.check(); p != nil {
		if p.transient != nil {
			t.Fatal(p.transient)
		}
		return p, nil, 0
	}
	if err := r.seek(0, 0); err != nil {
		t.Fatal(err)
	}
	for range 1_000_000 {
		b, err := r.batch(3)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range b.req.Records {
			records = append(records, string(rec))
		}
		refused += len(b.req.Rejects)
		if b.last {
			return nil, records, refused
		}
	}
	t.Fatal("the reader never reached the end of the file")
	return nil, nil, 0
}

func testSource(t testing.TB, over map[string]any) *Source {
	t.Helper()
	sc, err := schema.Compile([]byte(ordersSchema))
	if err != nil {
		t.Fatal(err)
	}
	src, err := New(values(t, over), connect.Env{Name: "drop", Stream: "orders", Dir: t.TempDir(), Schema: sc})
	if err != nil {
		t.Fatal(err)
	}
	return src.(*Source)
}

// fixture is a CSV file in pieces: a BOM, the header, then rows (with
// CRLF, quoted commas, quotes and newlines).
var fixture = []string{
	"\xef\xbb\xbf",
	"order_id,customer_id,amount,currency,ordered_at\r\n",
	"o1,c1,12.50,EUR,2026-12-01T10:00:00Z\r\n",
	"o2,\"Smith, J\",3,USD,1795000000000\r\n",
	"o3,\"two\nlines, \"\"quoted\"\"\",0,,2026-12-01 10:00:00Z\r\n",
	"o4,c4,7,GBP,2026-12-01T10:00:00Z\n",
	"o5,\"\",1e3,EUR,2026-12-01T10:00:00.123456+01:00\n",
}

// T5: the file cut at every offset. A cut at a row boundary is a shorter
// sound file with exactly its whole rows; every other cut is rejected
// whole, never ingested in part.
func TestEveryTruncation(t *testing.T) {
	full := strings.Join(fixture, "")
	src := testSource(t, nil)
	_, want, _ := readAll(t, src, writeTemp(t, "full.csv", full))
	if len(want) != len(fixture)-2 {
		t.Fatalf("the whole fixture gives %d records, want %d", len(want), len(fixture)-2)
	}
	boundary := map[int]int{} // offset -> whole rows before it
	off := 0
	for i, piece := range fixture {
		off += len(piece)
		boundary[off] = i - 1
	}
	for cut := 0; cut <= len(full); cut++ {
		p, got, refused := readAll(t, src, writeTemp(t, fmt.Sprintf("cut-%d.csv", cut), full[:cut]))
		rows, whole := boundary[cut]
		switch {
		case whole && rows >= 1:
			if p != nil || refused != 0 || !slices.Equal(got, want[:rows]) {
				t.Fatalf("cut at %d (after %d whole rows): problem %v, records %q, refused %d; want %q", cut, rows, p, got, refused, want[:rows])
			}
		case p == nil:
			t.Fatalf("cut at %d (%q) was taken: records %q", cut, full[max(0, cut-20):cut], got)
		case !slices.Contains([]string{"empty", "truncated", "header"}, p.rule):
			t.Fatalf("cut at %d rejected as %s: %s", cut, p.rule, p.reason)
		}
	}
}

// Seeded byte changes anywhere in the file: never a panic or a hang, and
// every row is either a record for the gate or refused with a reason.
func TestByteFlips(t *testing.T) {
	full := []byte(strings.Join(fixture, ""))
	src := testSource(t, map[string]any{"final_newline": false})
	seed := uint64(rand.Int64())
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range 1000 {
		b := bytes.Clone(full)
		for range 1 + rng.IntN(3) {
			const alphabet = "\",\n\r x0\xff\x00"
			b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
		}
		p, recs, refused := readAll(t, src, writeTemp(t, fmt.Sprintf("flip-%d.csv", i), string(b)))
		if p == nil && len(recs)+refused == 0 {
			t.Fatalf("seed %d, case %d: a file taken with no rows: %q", seed, i, b)
		}
		if p != nil && p.reason == "" {
			t.Fatalf("seed %d, case %d: rejected without a reason", seed, i)
		}
	}
}

// FuzzCSVFile: any bytes as a CSV file are rejected with a rule or read to
// the end, each row a record or refused.
func FuzzCSVFile(f *testing.F) {
	f.Add([]byte(strings.Join(fixture, "")))
	f.Add([]byte("order_id,customer_id,amount,ordered_at\no1,\"a\"\"b\",1,2026-12-01T10:00:00Z\n"))
	f.Add([]byte("a\"b,c\n"))
	src := testSource(f, nil)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body []byte) {
		path := filepath.Join(dir, "f.csv")
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		p, recs, refused := readAll(t, src, path)
		if p == nil && len(recs)+refused == 0 {
			t.Fatalf("a file taken with no rows: %q", body)
		}
		if p != nil && (p.rule == "" || p.reason == "") {
			t.Fatalf("rejected without a rule and a reason: %+v", p)
		}
	})
}

func writeTemp(t testing.TB, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
