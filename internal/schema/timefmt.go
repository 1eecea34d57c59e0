package schema

// ParseRFC3339Micros parses an RFC 3339 date-time
// (YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM), 'T' and 'Z' in either case)
// into microseconds since the Unix epoch, UTC. Digits beyond the
// microsecond are truncated. It exists because time.Parse costs about 200 ns,
// a large share of the per-event budget; a fuzz test holds it to time.Parse.
func ParseRFC3339Micros(s []byte) (int64, bool) {
	if !rfc3339Shape(s) {
		return 0, false
	}
	days, ok := parseDate(s)
	if !ok {
		return 0, false
	}
	return parseTimeOfDay(s, days)
}

// rfc3339Shape checks the separators of YYYY-MM-DDTHH:MM:SS.
func rfc3339Shape(s []byte) bool {
	return len(s) >= 20 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't') && s[13] == ':' && s[16] == ':'
}

// parseDate returns the days from 1970-01-01 to the date YYYY-MM-DD that
// starts s.
func parseDate(s []byte) (int64, bool) {
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !(ok1 && ok2 && ok3) || year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return 0, false
	}
	return daysFromCivil(int64(year), int64(month), int64(day)), true
}

// parseTimeOfDay parses the rest of s after its date, which is days after
// 1970-01-01.
func parseTimeOfDay(s []byte, days int64) (int64, bool) {
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok4 && ok5 && ok6) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	p := 19
	var micros int64
	if s[p] == '.' {
		p++
		start := p
		scale := int64(100000)
		for p < len(s) && s[p] >= '0' && s[p] <= '9' {
			micros += int64(s[p]-'0') * scale
			scale /= 10
			p++
		}
		if p == start {
			return 0, false
		}
	}
	if p >= len(s) {
		return 0, false
	}
	var offset int64 // seconds east of UTC
	switch s[p] {
	case 'Z', 'z':
		p++
	case '+', '-':
		if len(s)-p != 6 || s[p+3] != ':' {
			return 0, false
		}
		oh, ok1 := digits(s[p+1 : p+3])
		om, ok2 := digits(s[p+4 : p+6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = int64(oh*3600 + om*60)
		if s[p] == '-' {
			offset = -offset
		}
		p += 6
	default:
		return 0, false
	}
	if p != len(s) {
		return 0, false
	}
	secs := days*86400 + int64(hour*3600+minute*60+sec) - offset
	return secs*1_000_000 + micros, true
}

// dateCache remembers the last date parsed: the events of one request
// mostly share it, and the date is half the cost of a timestamp.
type dateCache struct {
	text [10]byte
	days int64
	set  bool
}

// parse is ParseRFC3339Micros through the cache.
func (c *dateCache) parse(s []byte) (int64, bool) {
	if !rfc3339Shape(s) {
		return 0, false
	}
	if !c.set || string(c.text[:]) != string(s[:10]) {
		days, ok := parseDate(s)
		if !ok {
			return 0, false
		}
		copy(c.text[:], s[:10])
		c.days, c.set = days, true
	}
	return parseTimeOfDay(s, c.days)
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to the given
// proleptic Gregorian date (Howard Hinnant's published algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
