package schema

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// describe renders the columns of s as "name:type[,required][,nullable][,epochms]".
func describe(s *Schema) []string {
	var out []string
	for _, c := range s.Columns {
		d := c.Name + ":" + c.Type.String()
		if c.Required {
			d += ",required"
		}
		if c.Nullable {
			d += ",nullable"
		}
		if c.AcceptEpochMillis {
			d += ",epochms"
		}
		out = append(out, d)
	}
	return out
}

func TestCompileColumns(t *testing.T) {
	f := func(src string, want ...string) {
		t.Helper()
		s, err := Compile([]byte(src))
		if err != nil {
			t.Errorf("Compile(%s): %v", src, err)
			return
		}
		if got := describe(s); !reflect.DeepEqual(got, want) {
			t.Errorf("Compile(%s)\n got  %q\n want %q", src, got, want)
		}
		for i, c := range s.Columns {
			if s.ColumnIndex(c.Name) != i {
				t.Errorf("ColumnIndex(%q) = %d, want %d", c.Name, s.ColumnIndex(c.Name), i)
			}
		}
		if s.ColumnIndex("no such column") != -1 {
			t.Errorf("ColumnIndex of an unknown name is not -1")
		}
	}

	f(clickstreamSchema,
		"ts:timestamp,required,epochms", "user_id:string,required", "url:string,required",
		"status:integer,required", "amount:number,nullable", "country:string")
	// Document order, not alphabetical, whatever the other keywords' places.
	f(`{"properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"},"mid":{"type":"boolean"}},"type":"object","required":["mid"]}`,
		"zeta:string", "alpha:integer", "mid:boolean,required")
	f(`{"type":"object","properties":{"b":{"type":"number","description":"{\"properties\":{}}"},"a":{"type":"string","default":{"x":[1,{"y":2}]}}}}`,
		"b:number", "a:string")
	f(`{"type":"object","properties":{"a/b":{"type":"string"},"é":{"type":"string"},"":{"type":"string"}}}`,
		"a/b:string", "é:string", ":string")
	f(`{"type":"object","properties":{
		"s":{"type":["string","null"]},
		"n":{"type":["null","integer"]},
		"x":{"type":["number"]},
		"b":{"type":["boolean","null"]},
		"t":{"type":"string","format":"date-time"},
		"tn":{"type":["string","null"],"format":"date-time"},
		"te":{"type":["integer","string"],"format":"date-time"},
		"ten":{"type":["string","integer","null"],"format":"date-time"}}}`,
		"s:string,nullable", "n:integer,nullable", "x:number", "b:boolean,nullable",
		"t:timestamp", "tn:timestamp,nullable", "te:timestamp,epochms", "ten:timestamp,nullable,epochms")
	f(`{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"x","title":"t","description":"d","$comment":"c",
		"type":"object","properties":{"a":{"type":"string","title":"A","examples":["x"],"x-weir-pii":true,"deprecated":true,
		"readOnly":false,"writeOnly":false,"$comment":"c"}}}`, "a:string")
}

func TestCompileConstraints(t *testing.T) {
	s, err := Compile([]byte(`{"type":"object","additionalProperties":false,"properties":{
		"n":{"type":"integer","minimum":-1,"maximum":10,"exclusiveMinimum":-2,"exclusiveMaximum":11,"multipleOf":0.5},
		"s":{"type":"string","minLength":1,"maxLength":5,"pattern":"^a"},
		"plain":{"type":"string"},
		"e":{"type":["string","null"],"enum":["x",null,"y"]},
		"c":{"type":"number","const":2},
		"ec":{"type":"string","enum":["x","y"],"const":"y"},
		"ecx":{"type":"string","enum":["x","y"],"const":"z"},
		"none":{"type":"string","enum":[]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.AdditionalProperties {
		t.Error("AdditionalProperties is true")
	}
	col := func(name string) Column { return s.Columns[s.ColumnIndex(name)] }
	n := col("n")
	if *n.Minimum != -1 || *n.Maximum != 10 || *n.ExclusiveMinimum != -2 || *n.ExclusiveMaximum != 11 || *n.MultipleOf != 0.5 {
		t.Errorf("number constraints: %+v", n)
	}
	if c := col("s"); c.MinLength != 1 || c.MaxLength != 5 || c.Pattern == nil || c.Pattern.String() != "^a" {
		t.Errorf("string constraints: %+v", c)
	}
	if c := col("plain"); c.MinLength != -1 || c.MaxLength != -1 || c.Pattern != nil || c.Enum != nil || c.Minimum != nil {
		t.Errorf("unconstrained column: %+v", c)
	}
	for name, want := range map[string][]any{
		"e":    {"x", nil, "y"},
		"c":    {2.0},
		"ec":   {"y"},
		"ecx":  {}, // enum and const that no value satisfies both
		"none": {},
	} {
		if got := col(name).Enum; got == nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Enum = %#v, want %#v", name, got, want)
		}
	}

	s, err = Compile([]byte(`{"type":"object","properties":{"a":{"type":"string"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !s.AdditionalProperties {
		t.Error("AdditionalProperties defaults to false")
	}
}

func TestCompileRefused(t *testing.T) {
	f := func(src, wantPointer string) {
		t.Helper()
		s, err := Compile([]byte(src))
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Compile(%s) = %v, %v; want an *Error at %q", src, s, err, wantPointer)
			return
		}
		if e.Pointer != wantPointer {
			t.Errorf("Compile(%s): Pointer = %q, want %q (%v)", src, e.Pointer, wantPointer, err)
		}
		if wantPointer != "" && !strings.Contains(err.Error(), wantPointer) {
			t.Errorf("Compile(%s): message %q does not name %q", src, err, wantPointer)
		}
	}
	obj := func(props string) string { return `{"type":"object","properties":{` + props + `}}` }

	f(`not json`, "")
	f(`[]`, "")
	f(`{"type":"object","properties":{"a":{"type":"string"}}} {}`, "")
	f(`{"type":"object","properties":{"a":{"type":"string"}}} x`, "")
	f(`{"properties":{"a":{"type":"string"}}}`, "/type")
	f(`{"type":"array","properties":{"a":{"type":"string"}}}`, "/type")
	f(`{"type":["object"],"properties":{"a":{"type":"string"}}}`, "/type")
	f(`{"type":"object"}`, "/properties")
	f(`{"type":"object","properties":{}}`, "/properties")
	f(`{"type":"object","properties":[]}`, "/properties")
	f(`{"type":"object","oneOf":[{"required":["a"]}],"properties":{"a":{"type":"string"}}}`, "/oneOf")
	f(`{"type":"object","patternProperties":{"^x":{}},"properties":{"a":{"type":"string"}}}`, "/patternProperties")
	f(`{"type":"object","$defs":{},"properties":{"a":{"type":"string"}}}`, "/$defs")
	f(`{"type":"object","additionalProperties":{"type":"string"},"properties":{"a":{"type":"string"}}}`, "/additionalProperties")
	f(`{"type":"object","required":"a","properties":{"a":{"type":"string"}}}`, "/required")
	f(`{"type":"object","required":[1],"properties":{"a":{"type":"string"}}}`, "/required")
	f(`{"type":"object","required":["a","b"],"properties":{"a":{"type":"string"}}}`, "/required")
	f(obj(`"a":true`), "/properties/a")
	f(obj(`"a":{}`), "/properties/a/type")
	f(obj(`"a":{"format":"date-time"}`), "/properties/a/type")
	f(obj(`"a":{"type":7}`), "/properties/a/type")
	f(obj(`"a":{"type":["string",7]}`), "/properties/a/type")
	f(obj(`"a":{"type":"object","properties":{"b":{"type":"string"}}}`), "/properties/a/type")
	f(obj(`"a":{"type":"array","items":{"type":"string"}}`), "/properties/a/type")
	f(obj(`"a":{"type":"null"}`), "/properties/a/type")
	f(obj(`"a":{"type":"float"}`), "/properties/a/type")
	f(obj(`"a":{"type":["integer","string"]}`), "/properties/a/type")
	f(obj(`"a":{"type":["integer","number"]}`), "/properties/a/type")
	f(obj(`"a":{"type":"integer","format":"date-time"}`), "/properties/a/type")
	f(obj(`"a":{"type":["string","number"],"format":"date-time"}`), "/properties/a/type")
	f(obj(`"a":{"type":"string","format":"email"}`), "/properties/a/format")
	f(obj(`"a":{"type":"string","format":"date"}`), "/properties/a/format")
	f(obj(`"a":{"type":"string","format":7}`), "/properties/a/format")
	f(obj(`"a":{"type":"string","oneOf":[{"maxLength":1}]}`), "/properties/a/oneOf")
	f(obj(`"a":{"type":"string","$ref":"#/x"}`), "/properties/a/$ref")
	f(obj(`"a":{"type":"string","contentEncoding":"base64"}`), "/properties/a/contentEncoding")
	f(obj(`"a":{"type":"integer","minLength":1}`), "/properties/a/minLength")
	f(obj(`"a":{"type":"integer","pattern":"x"}`), "/properties/a/pattern")
	f(obj(`"a":{"type":"string","minimum":1}`), "/properties/a/minimum")
	f(obj(`"a":{"type":"boolean","maximum":1}`), "/properties/a/maximum")
	f(obj(`"a":{"type":"string","format":"date-time","exclusiveMinimum":1}`), "/properties/a/exclusiveMinimum")
	f(obj(`"a":{"type":"string","format":"date-time","maxLength":30}`), "/properties/a/maxLength")
	f(obj(`"a":{"type":"integer","minimum":"1"}`), "/properties/a/minimum")
	f(obj(`"a":{"type":"number","maximum":1e999}`), "/properties/a/maximum")
	f(obj(`"a":{"type":"number","multipleOf":0}`), "/properties/a/multipleOf")
	f(obj(`"a":{"type":"number","multipleOf":-1}`), "/properties/a/multipleOf")
	f(obj(`"a":{"type":"string","minLength":-1}`), "/properties/a/minLength")
	f(obj(`"a":{"type":"string","maxLength":1.5}`), "/properties/a/maxLength")
	f(obj(`"a":{"type":"string","maxLength":"3"}`), "/properties/a/maxLength")
	f(obj(`"a":{"type":"string","pattern":"("}`), "/properties/a/pattern")
	f(obj(`"a":{"type":"string","pattern":7}`), "/properties/a/pattern")
	f(obj(`"a":{"type":"string","enum":"x"}`), "/properties/a/enum")
	f(obj(`"a":{"type":"string","enum":[["x"]]}`), "/properties/a/enum")
	f(obj(`"a":{"type":"string","const":{"x":1}}`), "/properties/a/const")
	f(obj(`"a/b~c":{"type":"string","format":"uri"}`), "/properties/a~1b~0c/format")
	f(obj(`"ok":{"type":"string"},"bad":{"type":"string","if":{}}`), "/properties/bad/if")
}

func TestErrorMessage(t *testing.T) {
	_, err := Compile([]byte(`{"type":"object","properties":{"a":{"type":"string","anyOf":[]}}}`))
	if err == nil || !strings.Contains(err.Error(), `"anyOf" is not supported`) || !strings.HasPrefix(err.Error(), "at /properties/a/anyOf: ") {
		t.Errorf("error = %v", err)
	}
	if got := (&Error{Msg: "m"}).Error(); got != "m" {
		t.Errorf("Error without a pointer = %q", got)
	}
}

func TestSchemaEqual(t *testing.T) {
	compile := func(src string) *Schema {
		t.Helper()
		s, err := Compile([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := compile(`{"type":"object","properties":{"a":{"type":"string","maxLength":3}},"required":["a"]}`)
	b := compile(`{ "required": ["a"],
		"properties": { "a": { "maxLength": 3, "type": "string" } },
		"type": "object" }`)
	c := compile(`{"type":"object","properties":{"a":{"type":"string","maxLength":4}},"required":["a"]}`)
	if !a.Equal(b) || !b.Equal(a) {
		t.Error("the same schema, differently written, is not Equal")
	}
	if a.Equal(c) {
		t.Error("different schemas are Equal")
	}
}

func TestTypeString(t *testing.T) {
	for typ, want := range map[Type]string{String: "string", Int64: "integer", Float64: "number", Bool: "boolean",
		Timestamp: "timestamp", 0: "Type(0)", 99: "Type(99)"} {
		if got := typ.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", typ, got, want)
		}
	}
}
