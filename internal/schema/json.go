package schema

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends a decoded row as a JSON object of its columns, in
// schema order: strings escaped, numbers as JSON numbers (a non-finite
// float as null), booleans, timestamps as RFC 3339 in UTC with
// microseconds; a null is null where the schema allows it and absent
// where it does not (the value was absent). It is what a sink sends: the event as the
// gate accepted it, normalised.
func AppendJSON(dst []byte, cols []Column, vals []Value) []byte {
	dst = append(dst, '{')
	first := true
	for i, c := range cols {
		v := vals[i]
		if v.Null && !c.Nullable {
			continue // absent, as it came
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendJSONString(dst, c.Name)
		dst = append(dst, ':')
		dst = AppendJSONValue(dst, c, v)
	}
	return append(dst, '}')
}

// AppendJSONValue appends one value of a column as JSON (null as null).
func AppendJSONValue(dst []byte, c Column, v Value) []byte {
	if v.Null {
		return append(dst, "null"...)
	}
	{
		switch c.Type {
		case String:
			dst = AppendJSONString(dst, string(v.Bytes))
		case Int64:
			dst = strconv.AppendInt(dst, v.Int, 10)
		case Float64:
			if math.IsInf(v.Float, 0) || math.IsNaN(v.Float) {
				dst = append(dst, "null"...)
			} else {
				dst = strconv.AppendFloat(dst, v.Float, 'g', -1, 64)
			}
		case Bool:
			dst = strconv.AppendBool(dst, v.Int != 0)
		case Timestamp:
			dst = append(dst, '"')
			dst = appendRFC3339Micros(dst, v.Int)
			dst = append(dst, '"')
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string (RFC 8259; invalid UTF-8
// becomes U+FFFD, which the gate never lets in anyway).
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendRFC3339Micros writes microseconds since the epoch as RFC 3339 in
// UTC, the fraction without trailing zeros (what time.AppendFormat with
// "2006-01-02T15:04:05.999999Z07:00" writes, several times faster).
func appendRFC3339Micros(dst []byte, us int64) []byte {
	t := time.UnixMicro(us).UTC()
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	if y < 0 || y > 9999 {
		return t.AppendFormat(dst, "2006-01-02T15:04:05.999999Z07:00")
	}
	two := func(dst []byte, n int) []byte { return append(dst, byte('0'+n/10), byte('0'+n%10)) }
	dst = two(two(dst, y/100), y%100)
	dst = two(append(dst, '-'), int(mo))
	dst = two(append(dst, '-'), d)
	dst = two(append(dst, 'T'), h)
	dst = two(append(dst, ':'), mi)
	dst = two(append(dst, ':'), sec)
	if frac := t.Nanosecond() / 1000; frac != 0 {
		var digits [6]byte
		for i := 5; i >= 0; i-- {
			digits[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := 6
		for n > 0 && digits[n-1] == '0' {
			n--
		}
		dst = append(append(dst, '.'), digits[:n]...)
	}
	return append(dst, 'Z')
}

// IsJSONNumber reports whether s is a JSON number (RFC 8259 grammar).
func IsJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	if i >= len(s) {
		return false
	}
	if s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
