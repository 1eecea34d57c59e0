// Package schema turns a stream's JSON Schema into a typed column list and a
// validating decoder, and owns the binary row format that the log stores.
//
// The gate calls [Decoder.Decode] once per event: it parses the JSON, checks
// every rule the schema states, and appends the event to a row buffer in the
// row format (see codec.go). A generic JSON Schema validator costs 7–10 µs per
// event here; the compiled decoder does the same job in a few hundred
// nanoseconds. Tests hold it to the same verdicts as
// github.com/santhosh-tekuri/jsonschema/v6 on the supported subset
// (reference_test.go), numbers compared exactly as written, except that the
// decoder refuses what it cannot store faithfully:
//
//   - strings that are not valid UTF-8 (encoding/json would replace the bad
//     bytes with U+FFFD);
//   - integers outside int64, and numbers outside float64's range;
//   - timestamps outside years 0001–9999, as strings or epoch
//     milliseconds, and leap seconds (second 60);
//   - JSON nested deeper than 300 levels (in undeclared properties).
//
// Supported: a top-level object whose properties are scalars — string,
// integer, number, boolean, and timestamps (`"format": "date-time"`, RFC 3339
// strings, or epoch milliseconds when the type also lists "integer") — each
// optionally nullable (`"type": ["string", "null"]`), with required,
// additionalProperties, enum, const, minimum/maximum (exclusive too),
// multipleOf, minLength/maxLength and pattern. Anything else is refused when
// the schema is compiled, with the JSON pointer of the keyword.
//
// Patterns are Go regular expressions (RE2 syntax, unanchored as in JSON
// Schema). The usual anchored forms of ids and codes, ASCII sets with
// repeats such as ^[A-Z]{2}$, match byte by byte without the regexp engine
// (pattern.go); a randomized test holds them to regexp's answers.
//
// This package must not import the log, the gate or anything above them.
package schema
