package schema

import (
	"regexp"
	"testing"
	"time"
)

func TestParseRFC3339Micros(t *testing.T) {
	ok := func(in string, want time.Time) {
		t.Helper()
		got, ok := ParseRFC3339Micros([]byte(in))
		if !ok {
			t.Errorf("ParseRFC3339Micros(%q) failed, want %v", in, want)
			return
		}
		if got != want.UnixMicro() {
			t.Errorf("ParseRFC3339Micros(%q) = %d (%v), want %d (%v)", in, got, time.UnixMicro(got).UTC(), want.UnixMicro(), want.UTC())
		}
	}
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}

	ok("2026-11-22T16:07:00Z", utc(2026, 11, 22, 16, 7, 0, 0))
	ok("2026-11-22t16:07:00z", utc(2026, 11, 22, 16, 7, 0, 0)) // RFC 3339 §5.6 allows lower case
	ok("2026-11-22T16:07:00.1Z", utc(2026, 11, 22, 16, 7, 0, 100_000_000))
	ok("2026-11-22T16:07:00.123456Z", utc(2026, 11, 22, 16, 7, 0, 123_456_000))
	ok("2026-11-22T16:07:00.123456789Z", utc(2026, 11, 22, 16, 7, 0, 123_456_000)) // truncated, not rounded
	ok("2026-11-22T16:07:00.9999999999999Z", utc(2026, 11, 22, 16, 7, 0, 999_999_000))
	ok("2026-11-22T16:07:00.000001Z", utc(2026, 11, 22, 16, 7, 0, 1000))
	ok("2026-11-22T16:07:00.0000009Z", utc(2026, 11, 22, 16, 7, 0, 0))
	ok("2026-11-22T16:07:00+01:00", utc(2026, 11, 22, 15, 7, 0, 0))
	ok("2026-11-22T16:07:00.5-08:00", utc(2026, 11, 23, 0, 7, 0, 500_000_000))
	ok("2026-11-22T16:07:00+05:30", utc(2026, 11, 22, 10, 37, 0, 0))
	ok("2026-11-22T16:07:00-00:00", utc(2026, 11, 22, 16, 7, 0, 0))
	ok("2026-11-22T16:07:00+23:59", utc(2026, 11, 21, 16, 8, 0, 0))
	ok("2026-12-31T23:30:00-01:00", utc(2027, 1, 1, 0, 30, 0, 0))
	ok("1970-01-01T00:00:00Z", utc(1970, 1, 1, 0, 0, 0, 0))
	ok("1969-12-31T23:59:59.5Z", utc(1969, 12, 31, 23, 59, 59, 500_000_000)) // -500000 µs
	ok("1969-12-31T23:59:59.999999Z", utc(1969, 12, 31, 23, 59, 59, 999_999_000))
	ok("2024-02-29T12:00:00Z", utc(2024, 2, 29, 12, 0, 0, 0))
	ok("2000-02-29T12:00:00Z", utc(2000, 2, 29, 12, 0, 0, 0))
	ok("1600-02-29T00:00:00Z", utc(1600, 2, 29, 0, 0, 0, 0))
	ok("0001-01-01T00:00:00Z", utc(1, 1, 1, 0, 0, 0, 0))
	ok("0001-01-01T00:00:00+01:00", utc(0, 12, 31, 23, 0, 0, 0)) // year 0 in UTC
	ok("9999-12-31T23:59:59.999999Z", utc(9999, 12, 31, 23, 59, 59, 999_999_000))
	ok("9999-12-31T23:59:59-23:59", utc(10000, 1, 1, 23, 58, 59, 0))
	ok("0004-02-29T00:00:00Z", utc(4, 2, 29, 0, 0, 0, 0))
	ok("0399-03-01T00:00:00Z", utc(399, 3, 1, 0, 0, 0, 0))

	bad := func(in string) {
		t.Helper()
		if got, ok := ParseRFC3339Micros([]byte(in)); ok {
			t.Errorf("ParseRFC3339Micros(%q) = %d, want failure", in, got)
		}
	}
	bad("")
	bad("2026-11-22")
	bad("2026-11-22T16:07Z")
	bad("2026-11-22T16:07:00")     // no offset
	bad("2026-11-22T16:07:00.123") // no offset
	bad("2026-11-22 16:07:00Z")    // RFC 3339 allows it in §5.6's note; JSON Schema's date-time does not
	bad("2026-11-22X16:07:00Z")
	bad("2026/11/22T16:07:00Z")
	bad("2026-11-22T16-07-00Z")
	bad("20261122T160700Z") // ISO 8601 basic format
	bad("26-11-22T16:07:00Z")
	bad("02026-11-22T16:07:00Z")
	bad("-2026-11-22T16:07:00Z")
	bad("+2026-11-22T16:07:00Z")
	bad("2026-1-22T16:07:00Z")
	bad("2026-11-2T16:07:00Z")
	bad("2026-11-22T6:07:00Z")
	bad("2026-11-22T16:7:00Z")
	bad("2026-11-22T16:07:0Z")
	bad("0000-01-01T00:00:00Z") // year 0: outside 0001–9999, a documented deviation
	bad("2026-00-22T16:07:00Z")
	bad("2026-13-22T16:07:00Z")
	bad("2026-11-00T16:07:00Z")
	bad("2026-11-31T16:07:00Z")
	bad("2026-12-32T16:07:00Z")
	bad("2023-02-29T16:07:00Z")
	bad("1900-02-29T16:07:00Z")
	bad("2026-11-22T24:00:00Z")
	bad("2026-11-22T16:60:00Z")
	bad("2026-11-22T16:07:60Z") // leap seconds: a documented deviation
	bad("2026-12-31T23:59:60Z")
	bad("2026-11-22T16:07:00.Z")
	bad("2026-11-22T16:07:00,5Z")
	bad("2026-11-22T16:07:00.5.5Z")
	bad("2026-11-22T16:07:00.5")
	bad("2026-11-22T16:07:00ZZ")
	bad("2026-11-22T16:07:00Z ")
	bad(" 2026-11-22T16:07:00Z")
	bad("2026-11-22T16:07:00+01")
	bad("2026-11-22T16:07:00+0100")
	bad("2026-11-22T16:07:00+01:0")
	bad("2026-11-22T16:07:00+01:000")
	bad("2026-11-22T16:07:00+24:00")
	bad("2026-11-22T16:07:00+01:60")
	bad("2026-11-22T16:07:00+1:00")
	bad("2026-11-22T16:07:00+a1:00")
	bad("2026-11-22T16:07:00 +01:00")
	bad("2026-11-22T16:07:00UTC")
	bad("2026-11-22T16:07:00GMT+1")
	bad("2026-11-22T16:07:00+01:00Z")
	bad("2026-11-22T16:07:0a.1Z")
	bad("202a-11-22T16:07:00Z")
	bad("2026-11-22T16:07:00\x00")
	bad("２０２６-11-22T16:07:00Z") // full-width digits
	bad("2026-11-22T16:07:00+0\u0661:00")
}

// supportedShape is the shape of the strings ParseRFC3339Micros parses.
var supportedShape = regexp.MustCompile(`^(\d{4})-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$`)

// FuzzParseRFC3339Micros holds ParseRFC3339Micros to time.Parse.
func FuzzParseRFC3339Micros(f *testing.F) {
	for _, s := range []string{
		"2026-11-22T16:07:00Z", "2026-11-22t16:07:00.123456789z", "1969-12-31T23:59:59.5-08:00",
		"0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59.999999999-23:59", "2024-02-29T00:00:00+05:30",
		"2023-02-29T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T16:07:60Z", "2026-11-22T16:07:00+24:00",
		"2026-11-22T16:07:00.Z", "2026-11-22T16:07:00,5Z", "0000-01-01T00:00:00Z", "2026-11-22 16:07:00Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		us, ok := ParseRFC3339Micros([]byte(s))
		// time.Parse insists on upper case T and Z; RFC 3339 and JSON
		// Schema allow lower case, and so do we.
		norm := []byte(s)
		if len(norm) > 10 && norm[10] == 't' {
			norm[10] = 'T'
		}
		if len(norm) > 0 && norm[len(norm)-1] == 'z' {
			norm[len(norm)-1] = 'Z'
		}
		tt, err := time.Parse(time.RFC3339Nano, string(norm))
		if ok {
			if err != nil {
				t.Fatalf("ParseRFC3339Micros(%q) = %d, but time.Parse rejects it: %v", s, us, err)
			}
			if want := tt.UnixMicro(); us != want {
				t.Fatalf("ParseRFC3339Micros(%q) = %d, time.Parse gives %d (%v)", s, us, want, tt)
			}
			return
		}
		if err != nil {
			return
		}
		// time.Parse accepts; we must too if the string has the shape we
		// support, except where time.Parse is laxer than RFC 3339:
		// year 0000 (outside 0001–9999), offsets of 24 hours or 60 minutes.
		m := supportedShape.FindStringSubmatch(s)
		if m == nil || m[1] == "0000" || m[4] > "23" || m[5] > "59" {
			return
		}
		t.Fatalf("ParseRFC3339Micros(%q) fails, time.Parse gives %v", s, tt)
	})
}
