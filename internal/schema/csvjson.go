package schema

import "strings"

// AppendCSVObject appends a CSV row as the JSON object a Decoder of sc
// reads, so CSV files are checked by the same rules as JSON: field i goes
// under key keys[i] (JSONKey) as column cols[i] of sc (-1: a column the
// schema lacks, kept as a string for the decoder to judge). An empty cell
// is absent (NULL where the schema allows it), except in a required
// string column, where it is the empty string; cells of other types are
// trimmed.
func AppendCSVObject(dst []byte, sc *Schema, cols []int, keys [][]byte, fields []string) []byte {
	dst = append(dst, '{')
	first := true
	for i, v := range fields {
		c := cols[i]
		typ, required := String, false
		if c >= 0 {
			typ, required = sc.Columns[c].Type, sc.Columns[c].Required
		}
		if typ != String {
			v = strings.TrimSpace(v)
		}
		if v == "" && (typ != String || !required) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, keys[i]...)
		dst = AppendCSVCell(dst, typ, v)
	}
	return append(dst, '}')
}

// AppendCSVCell writes a CSV cell as the JSON value a column of type typ
// reads: numbers and booleans bare when they are ones (else as a string,
// which the decoder rejects with the field's name), timestamps as epoch
// milliseconds or RFC 3339 (a space between date and time is allowed).
func AppendCSVCell(dst []byte, typ Type, v string) []byte {
	switch typ {
	case Int64, Float64:
		if IsJSONNumber(v) {
			return append(dst, v...)
		}
	case Bool:
		switch strings.ToLower(v) {
		case "true":
			return append(dst, "true"...)
		case "false":
			return append(dst, "false"...)
		}
	case Timestamp:
		if IsJSONNumber(v) && !strings.ContainsAny(v, ".eE") {
			return append(dst, v...)
		}
		if len(v) > 10 && v[10] == ' ' {
			v = v[:10] + "T" + v[11:]
		}
	}
	return AppendJSONStringRaw(dst, v)
}

// JSONKey is name as a JSON object key, with its colon.
func JSONKey(name string) []byte { return append(AppendJSONStringRaw(nil, name), ':') }

// AppendJSONStringRaw is AppendJSONString for input that is still to be
// checked (a CSV or Parquet file's cells): invalid UTF-8 is copied as it
// is, so the Decoder rejects it with a reason instead of passing U+FFFD.
func AppendJSONStringRaw(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
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
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
