// Package spec is the seam between Weir and its connectors: each connector
// declares a Spec (its settings with kinds, defaults and docs), and that
// one declaration drives weir.yaml validation (internal/config), the
// reference page docs/connectors/<type>.md, and the values the connector
// is built from.
//
// Connectors register their Spec from an init function of their package;
// internal/connect/all imports every connector, so a binary that imports
// it knows them all. This package imports only the standard library, so
// the config loader can use it without pulling in any connector.
package spec

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kind is the type of a setting's value.
type Kind int

const (
	String   Kind = iota + 1
	Int           // a whole number
	Duration      // 500ms, 5s, 10m, 24h, 7d
	Strings       // a list of strings (a single string is a list of one)
	Enum          // one of Field.Enum
	Bool
	Float // a number, bounded by FloatMin and FloatMax
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Int:
		return "integer"
	case Duration:
		return "duration"
	case Strings:
		return "list of strings"
	case Enum:
		return "one of"
	case Bool:
		return "boolean"
	case Float:
		return "number"
	}
	return "?"
}

// Field is one setting, as weir.yaml spells it.
type Field struct {
	Name     string
	Kind     Kind
	Required bool
	Default  string   // as written in weir.yaml; "" means none
	Enum     []string // the values an Enum field takes
	Min, Max int64    // bounds of an Int field (both 0: none)
	// FloatMin, FloatMax bound a Float field (both 0: none).
	FloatMin, FloatMax float64
	Doc                string
}

// Spec declares a connector.
type Spec struct {
	Type    string // the `type:` in weir.yaml
	Kind    string // "source" or "sink"
	Summary string // one line
	Doc     string // paragraphs for the reference page
	Fields  []Field
	Example string // a weir.yaml snippet
}

// Field returns the field called name.
func (s *Spec) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Values are a connector's settings, checked against its Spec: string,
// int64, time.Duration, []string or bool per field kind.
type Values map[string]any

func (v Values) String(name string) string          { s, _ := v[name].(string); return s }
func (v Values) Int(name string) int64              { n, _ := v[name].(int64); return n }
func (v Values) Duration(name string) time.Duration { d, _ := v[name].(time.Duration); return d }
func (v Values) Strings(name string) []string       { l, _ := v[name].([]string); return l }
func (v Values) Bool(name string) bool              { b, _ := v[name].(bool); return b }
func (v Values) Float(name string) float64          { f, _ := v[name].(float64); return f }

var (
	mu    sync.Mutex
	specs = map[string]*Spec{}
)

// Register adds a connector's Spec (its Kind set); a second one of the
// same kind and type panics. A source and a sink may share a type (kafka).
func Register(s *Spec) {
	mu.Lock()
	defer mu.Unlock()
	if s.Kind != "source" && s.Kind != "sink" {
		panic(fmt.Sprintf("BUG: connector %q has kind %q", s.Type, s.Kind))
	}
	if _, dup := specs[s.Kind+"/"+s.Type]; dup {
		panic(fmt.Sprintf("BUG: %s connector type %q registered twice", s.Kind, s.Type))
	}
	specs[s.Kind+"/"+s.Type] = s
}

// Lookup returns the Spec of a connector of a kind ("source", "sink").
func Lookup(kind, typ string) (*Spec, bool) {
	mu.Lock()
	defer mu.Unlock()
	s, ok := specs[kind+"/"+typ]
	return s, ok
}

// DocFile is the name of a connector's reference page in docs/connectors:
// <type>.md for a source, <type>-sink.md for a sink.
func DocFile(s *Spec) string {
	if s.Kind == "sink" {
		return s.Type + "-sink.md"
	}
	return s.Type + ".md"
}

// Types lists the registered types of a kind ("source", "sink"), sorted.
func Types(kind string) []string {
	mu.Lock()
	defer mu.Unlock()
	var out []string
	for _, s := range specs {
		if s.Kind == kind {
			out = append(out, s.Type)
		}
	}
	sort.Strings(out)
	return out
}

// Markdown renders the reference page of a Spec.
func Markdown(s *Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s %s\n\n", s.Type, s.Kind)
	fmt.Fprintf(&b, "<!-- Generated from the connector's spec: go test ./internal/connect/all/ -update -->\n\n")
	fmt.Fprintf(&b, "%s\n\n", s.Summary)
	if s.Doc != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(s.Doc))
	}
	b.WriteString("## Settings\n\n")
	switch s.Kind {
	case "sink":
		b.WriteString("Besides `type`, the sink names what it sends out: `stream: NAME`, a stream of weir.yaml, or `view: NAME`, " +
			"a view of `views/*.sql` whose rows are final once written (a windowed aggregate that emits when its window closes, " +
			"or a view without aggregates; a continuous aggregate's changelog is refused at start). A view's rows have its columns; " +
			"they are sent as they are written, and its log keeps them until the sink has sent them. When the view is rebuilt " +
			"(its SQL changed), the sink sends the new definition's rows as well, computed again from the retained log; " +
			"what it sent for the old definition stays where it went.\n\n")
	case "source":
		b.WriteString("Besides `type`, the source names the stream it feeds: `stream: NAME`.\n\n")
	}
	b.WriteString("| setting | type | default | meaning |\n|---|---|---|---|\n")
	for _, f := range s.Fields {
		kind := f.Kind.String()
		if f.Kind == Enum {
			kind = "one of `" + strings.Join(f.Enum, "`, `") + "`"
		}
		if f.Kind == Int && (f.Min != 0 || f.Max != 0) {
			kind = fmt.Sprintf("integer, %d to %d", f.Min, f.Max)
		}
		if f.Kind == Float && (f.FloatMin != 0 || f.FloatMax != 0) {
			kind = fmt.Sprintf("number, %g to %g", f.FloatMin, f.FloatMax)
		}
		def := "—"
		switch {
		case f.Required:
			def = "required"
		case f.Default != "":
			def = "`" + f.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Name, kind, def, f.Doc)
	}
	if s.Example != "" {
		fmt.Fprintf(&b, "\n## Example\n\n```yaml\n%s\n```\n", strings.TrimSpace(s.Example))
	}
	return b.String()
}
