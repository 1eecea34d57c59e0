package schema

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var jsonSamples = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `1E-2`, `true`, `false`, `null`, ` {"a" : [1, 2.5, "x", null, true, {}]} `,
	"\t\r\n{}\n", `"\"\\\/\b\f\n\r\t\u00e9\uD83D\ude00"`, `"é😀"`, `{"a":{"b":{"c":[[[]]]}}}`, `[1,[2,[3]]]`,
	`"` + strings.Repeat("abcdefgh", 9) + `"`, `"` + strings.Repeat("abcdefg\\n", 5) + `"`,
	``, ` `, `{`, `}`, `[`, `]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a":1 "b":2}`, `{"a" 1}`,
	`{a:1}`, `{'a':1}`, `[1 2]`, `01`, `-01`, `1.`, `.1`, `+1`, `-`, `1e`, `1e+`, `1.e1`, `NaN`, `Infinity`, `-inf`,
	`1.2.3`, `--1`, `0x10`, `tru`, `nul`, `fals`, `truex`, `nulll`, `"abc`, `"\x"`, `"\u12"`, `"\u12G4"`, `"\`,
	"\"a\tb\"", "\"a\nb\"", "\"\x00\"", "\"\x1f\"", "\"a\x7fb\"", "\"\xff\"", "\xef\xbb\xbf{}", `{} {}`, `{}x`, `[]]`,
	"\"" + strings.Repeat("x", 15) + "\t\"", "\"" + strings.Repeat("x", 7) + "\\\"\"", `"` + strings.Repeat(`\\`, 9) + `"`,
	strings.Repeat("[", 300) + strings.Repeat("]", 300), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000), "\u00a0{}", "{}\u00a0", "\v{}", "\f{}",
}

func TestValidJSON(t *testing.T) {
	for _, s := range jsonSamples {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%.60q) = %v, json.Valid says %v", s, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range jsonSamples {
		if len(s) < 1000 {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

// specialBytes flags exactly the first byte that needs a look, for every
// byte value at every position, among plain and special neighbours.
func TestSpecialBytes(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }
	first := func(w [8]byte) int {
		for i, c := range w {
			if special(c) {
				return i
			}
		}
		return 8
	}
	check := func(w [8]byte) {
		m := specialBytes(binary.LittleEndian.Uint64(w[:]))
		got := 8
		if m != 0 {
			got = 0
			for m&0x80 == 0 {
				m >>= 8
				got++
			}
		}
		if want := first(w); got != want {
			t.Fatalf("specialBytes(%q): first flagged byte %d, want %d", w, got, want)
		}
	}
	for c := range 256 {
		for pos := range 8 {
			for _, fill := range []byte{'a', 0xff, 0x80, ' ', '!', '#', '[', ']', '~', 0x7f} {
				var w [8]byte
				for i := range w {
					w[i] = fill
				}
				w[pos] = byte(c)
				check(w)
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{0, 0x1f, 0x20, 0x21, '"', '#', '\\', ']', 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff, 'a'}
	for range 200000 {
		var w [8]byte
		for i := range w {
			w[i] = alphabet[r.IntN(len(alphabet))]
		}
		check(w)
	}
}

// appendUnquoted decodes strings as encoding/json does.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`abc`, `a\"b\\c\/d`, `\b\f\n\r\t`, `\u00e9`, `\ud83d\ude00`, `\ud83d`, `\ude00\ud83d`,
		`\ud83d\u0041`, `\ud83d\ud83d\ude00`, `\uDBFF\uDFFF`, `\ud800\\ud800`, `x\u0000y`, `\u12`, `\x`, `é😀`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		q := append(append([]byte{'"'}, s...), '"')
		if !validJSON(q) {
			return
		}
		var want string
		if err := json.Unmarshal(q, &want); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", q, err)
		}
		got := appendUnquoted([]byte("prefix"), s)
		if !strings.HasPrefix(string(got), "prefix") {
			t.Fatalf("appendUnquoted clobbered dst: %q", got)
		}
		// encoding/json also replaces bytes that are not UTF-8; the decoder
		// refuses those strings instead.
		if utf8.Valid(s) && string(got[len("prefix"):]) != want {
			t.Fatalf("appendUnquoted(%q) = %q, encoding/json gives %q", s, got[len("prefix"):], want)
		}
	})
}

// jsonInteger agrees with big.Rat.
func TestJSONInteger(t *testing.T) {
	f := func(text string) {
		t.Helper()
		x, isInt, fits := jsonInteger([]byte(text))
		r, ok := new(big.Rat).SetString(text)
		if !ok {
			t.Fatalf("big.Rat cannot read %s", text)
		}
		wantInt := r.IsInt()
		wantFits := wantInt && r.Num().IsInt64()
		if isInt != wantInt || fits != wantFits || fits && x != r.Num().Int64() {
			t.Errorf("jsonInteger(%s) = %d, %v, %v; want %s, %v, %v", text, x, isInt, fits, r.RatString(), wantInt, wantFits)
		}
	}
	for _, s := range []string{"0", "-0", "7", "-7", "1.0", "1.5", "1e2", "1E+2", "1e-2", "100e-2", "150e-2", "0.0", "-0.0e-5",
		"0e99999", "0.000e-99999", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"9.223372036854775807e18", "9.223372036854775808e18", "922337203685477580.7e1", "92233720368547758070e-1",
		"18446744073709551616", "18446744073709551615", "1e19", "1e20", "1e400", "-1e400", "12345678901234567.0",
		"1.0000000000000001", "0.00000000000000000001e20", "5e0", "50e-1", "0.5e1", "123.4560e3"} {
		f(s)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		digits := make([]byte, 1+r.IntN(25))
		for i := range digits {
			digits[i] = byte('0' + r.IntN(10))
		}
		x, _ := new(big.Rat).SetString(string(digits) + "e-" + strconv.Itoa(r.IntN(4)))
		if r.IntN(2) == 0 {
			x.Neg(x)
		}
		f(formatDecimal(r, x))
	}
}

// Distinct short decimals have distinct float64s, which is what lets
// cmpExact skip big.Rat.
func TestShortDecimal(t *testing.T) {
	for text, want := range map[string]bool{
		"0": true, "-0.000": true, "0e-999": true, "1": true, "123456789012345": true, "1234567890123456": false,
		"1.23456789012345": true, "1.234567890123456": false, "123456789012345000000": true, "0.000123456789012345": true,
		"1e290": true, "1e291": false, "9.99e290": true, "1e-290": true, "1e-291": false, "0.1e-289": true, "12e-292": false,
		"100000000000000000000000000001": false, "-5.5E+3": true,
	} {
		if got := shortDecimal([]byte(text)); got != want {
			t.Errorf("shortDecimal(%s) = %v, want %v", text, got, want)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 100000 {
		// Two nearby decimals of up to 15 digits.
		digits := 1 + r.IntN(15)
		m := r.Int64N(int64(math.Pow10(digits)))
		e := r.IntN(580) - 290 - digits
		a := strconv.FormatInt(m, 10) + "e" + strconv.Itoa(e)
		b := strconv.FormatInt(m+1, 10) + "e" + strconv.Itoa(e)
		if !shortDecimal([]byte(a)) || !shortDecimal([]byte(b)) {
			continue
		}
		fa, _ := strconv.ParseFloat(a, 64)
		fb, _ := strconv.ParseFloat(b, 64)
		if fa == fb {
			t.Fatalf("%s and %s are short decimals with the same float64", a, b)
		}
	}
}
