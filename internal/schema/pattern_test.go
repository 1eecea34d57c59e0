package schema

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestSimplePatternForms(t *testing.T) {
	simple := []string{
		`^[A-Z]{2}$`, `^user-[0-9]+$`, `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}$`, `^\d{3,5}$`,
		`^[a-z]*$`, `^ab?c$`, `^[a-z]+[0-9]*$`, `^x{2,}y$`,
	}
	notSimple := []string{
		`[A-Z]{2}`,  // not anchored: a search
		`^[A-Z]{2}`, // open at the end
		`^[a-z]*a$`, // the run takes the byte after it
		`^a*b*a$`,   // ... past an item that may be empty
		`^[a-z]+-?[a-z]$`,
		`^.{2}$`,    // . takes a rune, not a byte
		`^[^a]$`,    // so does a negated class
		`^é$`,       // a rune past ASCII
		`(?i)^ab$`,  // case folding
		`^(ab|cd)$`, // alternation
		`^(?m)a$`,   // line anchors
		`^a*?b$`,    // non-greedy
	}
	for _, p := range simple {
		if compilePattern(p) == nil {
			t.Errorf("%q: no simple form, want one", p)
		}
	}
	for _, p := range notSimple {
		if compilePattern(p) != nil {
			t.Errorf("%q: has a simple form, want none", p)
		}
	}
}

// TestSimplePatternAgreesWithRegexp matches random strings against random
// patterns both ways: wherever a pattern has a simple form, it must give
// regexp's answer.
func TestSimplePatternAgreesWithRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	atoms := []string{"a", "b", "-", "[ab]", "[a-c]", `\d`, "[0-5]", "[b-]", "é", "."}
	reps := []string{"", "", "*", "+", "?", "{2}", "{1,3}", "{0,2}", "{2,}"}
	alphabet := []string{"a", "b", "c", "-", "0", "7", "é", "\n", "x"}
	simple, cases := 0, 0
	for range 3000 {
		var p strings.Builder
		p.WriteString("^")
		for range 1 + rng.IntN(4) {
			p.WriteString(atoms[rng.IntN(len(atoms))])
			p.WriteString(reps[rng.IntN(len(reps))])
		}
		p.WriteString("$")
		sp := compilePattern(p.String())
		if sp == nil {
			continue
		}
		simple++
		re := regexp.MustCompile(p.String())
		for range 60 {
			var s strings.Builder
			for range rng.IntN(7) {
				s.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			cases++
			if got, want := sp.match([]byte(s.String())), re.MatchString(s.String()); got != want {
				t.Fatalf("pattern %q, string %q: simple form says %v, regexp %v", p.String(), s.String(), got, want)
			}
		}
	}
	// The generator must reach the simple forms, or the test shows nothing.
	if simple < 500 {
		t.Fatalf("only %d of 3000 random patterns had a simple form", simple)
	}
	t.Logf("%d patterns with a simple form, %d strings", simple, cases)
}
