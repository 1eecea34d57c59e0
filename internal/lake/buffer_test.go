package lake

import (
	"fmt"
	"testing"

	"github.com/weirhq/weir/internal/schema"
)

// TestBufferReuse: hours emptied by reset and filled again hold exactly the
// new rows: no values, nulls or counts left from before.
func TestBufferReuse(t *testing.T) {
	sc, err := schema.Compile([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	dec := schema.NewDecoder(sc, nil)
	buf := newBuffer(sc.Columns, 0)
	fill := func(events ...string) {
		t.Helper()
		for _, e := range events {
			d, err := dec.Decode(nil, []byte(e))
			if err != nil {
				t.Fatal(err)
			}
			if err := buf.add(sc.Columns, d.Row); err != nil {
				t.Fatal(err)
			}
		}
	}
	const h1, h2 = `"2026-11-22T10:00:00Z"`, `"2026-11-22T11:00:00Z"`
	fill(`{"ts":`+h1+`,"user_id":"a-long-first-user","status":1,"amount":null}`,
		`{"ts":`+h1+`,"user_id":"b","status":2,"amount":2.5}`,
		`{"ts":`+h2+`,"user_id":"c","status":3,"amount":null}`)
	buf.reset()
	if len(buf.spare) != 2 || buf.rows != 0 || len(buf.byHour) != 0 {
		t.Fatalf("after reset: %d spare hours, %d rows, %d hours", len(buf.spare), buf.rows, len(buf.byHour))
	}
	fill(`{"ts":` + h2 + `,"user_id":"x","status":7,"amount":1.5}`)
	if len(buf.byHour) != 1 || len(buf.spare) != 1 {
		t.Fatalf("%d hours and %d spare after one row", len(buf.byHour), len(buf.spare))
	}
	for _, c := range buf.byHour {
		got := fmt.Sprintf("%d %s %v %v %v", c.n, c.cols[1].str(0), c.cols[2].ints, c.cols[3].floats, c.cols[3].isNull(0))
		if want := "1 x [7] [1.5] false"; got != want {
			t.Fatalf("reused hour holds %s, want %s", got, want)
		}
	}
}
