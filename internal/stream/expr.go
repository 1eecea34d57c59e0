package stream

import "github.com/weirhq/weir/internal/schema"

// Row is one row as a task sees it: a value per column.
type Row = []schema.Value

// Expr is a compiled scalar expression: a closure specialised for the
// types of its operands, and the type of what it returns.
type Expr struct {
	Type schema.Type
	Eval func(row Row) schema.Value
}

// True reports whether v is a non-null true boolean.
func True(v schema.Value) bool { return !v.Null && v.Int != 0 }
