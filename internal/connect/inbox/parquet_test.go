package inbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// pqOrder is a row of a Parquet file as another tool writes it: a decimal
// amount, an optional currency, a millisecond timestamp.
type pqOrder struct {
	OrderID    string    `parquet:"order_id"`
	CustomerID string    `parquet:"customer_id"`
	Amount     int64     `parquet:"amount,decimal(2:18)"`
	Currency   *string   `parquet:"currency,optional"`
	OrderedAt  time.Time `parquet:"ordered_at,timestamp(millisecond)"`
}

func writeParquet[T any](t testing.TB, rows []T, rowGroup int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf)
	for i := 0; i < len(rows); i += rowGroup {
		if _, err := w.Write(rows[i:min(i+rowGroup, len(rows))]); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil { // one row group each
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParquetRows(t *testing.T) {
	eur := "EUR"
	at := time.Date(2026, 12, 1, 10, 0, 0, 123_000_000, time.UTC)
	var rows []pqOrder
	for i := range 1000 {
		o := pqOrder{OrderID: "p" + itoa(i), CustomerID: "c", Amount: int64(i) * 150, OrderedAt: at.Add(time.Duration(i) * time.Second)}
		if i%2 == 0 {
			o.Currency = &eur
		}
		if i == 500 {
			o.Amount = -100 // below the minimum: quarantined
		}
		rows = append(rows, o)
	}
	src := testSource(t, map[string]any{"max_batch": int64(300)})
	body := writeParquet(t, rows, 400) // 3 row groups, batches across them
	p, recs, _ := readAll(t, src, writeTemp(t, "orders.parquet", string(body)))
	if p != nil {
		t.Fatalf("rejected: %s: %s", p.rule, p.reason)
	}
	if len(recs) != 1000 {
		t.Fatalf("%d records, want 1000", len(recs))
	}
	if want := `{"order_id":"p0","customer_id":"c","amount":0,"currency":"EUR","ordered_at":"2026-12-01T10:00:00.123Z"}`; recs[0] != want {
		t.Errorf("record 0 %s, want %s", recs[0], want)
	}
	if want := `{"order_id":"p1","customer_id":"c","amount":1.5,"ordered_at":"2026-12-01T10:00:01.123Z"}`; recs[1] != want {
		t.Errorf("record 1 %s, want %s", recs[1], want)
	}

	// Through the gate, resumed from a crash in the middle of a row group.
	r := newRig(t)
	os.WriteFile(filepath.Join(r.dir, "inbox", "orders.parquet"), body, 0o644)
	crashIn(t, r, map[string]any{"max_batch": int64(300)}, 2)
	ids := r.orderIDs()
	if len(ids) != 999 || ids["p500"] != 0 || ids["p999"] != 1 {
		t.Fatalf("%d orders ingested (p500 %d, p999 %d), want 999 without p500", len(ids), ids["p500"], ids["p999"])
	}
	if q := r.quarantine(); len(q) != 1 || q[0].Origin != "orders.parquet row 501" || q[0].Field != "amount" {
		t.Fatalf("quarantine %+v", q)
	}
}

// crashIn runs the source with a crash after n ingests, then again to the end.
func crashIn(t *testing.T, r *rig, over map[string]any, n int64) {
	t.Helper()
	ctx, cancel := contextWithCancel()
	crash := &crashAfter{g: r.g, n: n, cancel: cancel}
	r.run(over, crash, cancel, ctx)
	if crash.calls.Load() != n {
		t.Fatalf("%d ingests before the crash, want %d", crash.calls.Load(), n)
	}
	if err := r.run(over, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestParquetRejected(t *testing.T) {
	src := testSource(t, nil)
	good := writeParquet(t, []pqOrder{{OrderID: "a", CustomerID: "c", Amount: 1, OrderedAt: time.Now()}}, 10)
	f := func(name string, body []byte, rule, reason string) {
		t.Helper()
		p, _, _ := readAll(t, src, writeTemp(t, name, string(body)))
		if p == nil || p.rule != rule || !strings.Contains(p.reason, reason) {
			t.Fatalf("%s: %+v, want rule %s, reason containing %q", name, p, rule, reason)
		}
	}
	f("empty.parquet", nil, "empty", "the file is empty")
	f("cut.parquet", good[:len(good)-10], "truncated", "not a readable Parquet file")
	f("text.parquet", []byte("order_id,amount\n"), "truncated", "not a readable Parquet file")
	f("norows.parquet", writeParquet(t, []pqOrder{}, 10), "empty", "no rows")
	type wrongType struct {
		OrderID    string `parquet:"order_id"`
		CustomerID string `parquet:"customer_id"`
		Amount     string `parquet:"amount"`
		OrderedAt  int64  `parquet:"ordered_at,timestamp(microsecond)"`
	}
	f("type.parquet", writeParquet(t, []wrongType{{"a", "c", "1", 0}}, 10), "header", `column "amount" is STRING in the file; the stream's schema wants number`)
	type extra struct {
		OrderID    string  `parquet:"order_id"`
		CustomerID string  `parquet:"customer_id"`
		Amount     float64 `parquet:"amount"`
		OrderedAt  string  `parquet:"ordered_at"`
		Region     string  `parquet:"region"`
	}
	f("extra.parquet", writeParquet(t, []extra{{"a", "c", 1, "2026-12-01T10:00:00Z", "eu"}}, 10), "header", `"region" not in the stream's schema`)
	type missing struct {
		OrderID string `parquet:"order_id"`
	}
	f("missing.parquet", writeParquet(t, []missing{{"a"}}, 10), "header", `required column "customer_id" is missing`)
	type nested struct {
		OrderID string   `parquet:"order_id"`
		Tags    []string `parquet:"tags,list"`
	}
	f("nested.parquet", writeParquet(t, []nested{{"a", []string{"x"}}}, 10), "header", `column "tags" is nested or repeated`)

	// Seeded damage inside the pages (past the magic and before the
	// footer): rejected or read whole, never a panic.
	for i := 4; i < len(good)-8; i++ {
		b := slices.Clone(good)
		b[i] ^= 0x5a
		p, recs, _ := readAll(t, src, writeTemp(t, "flip.parquet", string(b)))
		if p == nil && len(recs) != 1 {
			t.Fatalf("byte %d flipped: %d records, want 1 or a rejection", i, len(recs))
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
