package schema

import (
	"regexp/syntax"
)

// A simplePattern matches, without the regexp engine, the patterns that
// fields like country codes, ids and hex digests use: anchored at both
// ends, a sequence of ASCII character sets each repeated a fixed or bounded
// number of times (^[A-Z]{2}$, ^user-[0-9]+$, ^[0-9a-f]{8}-[0-9a-f]{4}$).
// Go's regexp takes ~60 ns for ^[A-Z]{2}$; this takes a few.
//
// The match is greedy and never backs up, which is exact only when no
// byte a run of varying length takes may also come right after it (in
// the items that follow, up to the first that must take a byte): the run
// then has to end exactly where its bytes end. compilePattern accepts
// nothing else.
type simplePattern []patternItem

type patternItem struct {
	set      [2]uint64 // the ASCII bytes the item takes, as a bitmap
	min, max int       // repetitions; max -1 is unbounded
}

func (it *patternItem) has(c byte) bool {
	return c < 128 && it.set[c>>6]&(1<<(c&63)) != 0
}

// compilePattern returns the simple form of the Go regular expression
// expr, or nil when it has none.
func compilePattern(expr string) simplePattern {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return nil
	}
	subs := re.Sub
	if subs[0].Op != syntax.OpBeginText || subs[len(subs)-1].Op != syntax.OpEndText {
		return nil
	}
	var p simplePattern
	for _, s := range subs[1 : len(subs)-1] {
		switch s.Op {
		case syntax.OpLiteral:
			if s.Flags&syntax.FoldCase != 0 {
				return nil
			}
			for _, r := range s.Rune {
				it, ok := runeSet([]rune{r, r})
				if !ok {
					return nil
				}
				it.min, it.max = 1, 1
				p = append(p, it)
			}
		case syntax.OpCharClass:
			it, ok := runeSet(s.Rune)
			if !ok {
				return nil
			}
			it.min, it.max = 1, 1
			p = append(p, it)
		case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
			if s.Flags&syntax.NonGreedy != 0 {
				return nil // the same matches, but keep to what is plainly exact
			}
			it, ok := singleSet(s.Sub[0])
			if !ok {
				return nil
			}
			switch s.Op {
			case syntax.OpStar:
				it.min, it.max = 0, -1
			case syntax.OpPlus:
				it.min, it.max = 1, -1
			case syntax.OpQuest:
				it.min, it.max = 0, 1
			default:
				it.min, it.max = s.Min, s.Max
			}
			p = append(p, it)
		default:
			return nil
		}
	}
	for i := range p {
		if p[i].min == p[i].max {
			continue
		}
		// The bytes that may come right after item i's run: those of the
		// items after it, up to the first that must take one.
		var follow [2]uint64
		for j := i + 1; j < len(p); j++ {
			follow[0] |= p[j].set[0]
			follow[1] |= p[j].set[1]
			if p[j].min > 0 {
				break
			}
		}
		if p[i].set[0]&follow[0] != 0 || p[i].set[1]&follow[1] != 0 {
			return nil
		}
	}
	return p
}

// singleSet returns the set of a one-character expression.
func singleSet(re *syntax.Regexp) (patternItem, bool) {
	switch {
	case re.Op == syntax.OpCharClass:
		return runeSet(re.Rune)
	case re.Op == syntax.OpLiteral && len(re.Rune) == 1 && re.Flags&syntax.FoldCase == 0:
		return runeSet([]rune{re.Rune[0], re.Rune[0]})
	}
	return patternItem{}, false
}

// runeSet turns the rune ranges of a character class into a byte bitmap;
// a class with any rune past ASCII has no simple form (a multi-byte rune
// is one character to the class, several bytes to the matcher).
func runeSet(ranges []rune) (patternItem, bool) {
	var it patternItem
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		if lo < 0 || hi > 127 {
			return it, false
		}
		for c := lo; c <= hi; c++ {
			it.set[c>>6] |= 1 << (c & 63)
		}
	}
	return it, true
}

// match reports whether s matches the whole pattern.
func (p simplePattern) match(s []byte) bool {
	i := 0
	for k := range p {
		it := &p[k]
		n := 0
		for i < len(s) && (it.max < 0 || n < it.max) && it.has(s[i]) {
			i++
			n++
		}
		if n < it.min {
			return false
		}
	}
	return i == len(s)
}

// matchPattern reports whether s matches the column's pattern, which must
// be set.
func (c *Column) matchPattern(s []byte) bool {
	if c.simple != nil {
		return c.simple.match(s)
	}
	return c.Pattern.Match(s)
}
