package schema

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// The DDL builders: pure functions, no I/O. Identifiers enter only through
// pgx.Identifier.Sanitize; user-defined types as their quoted qualified name plus "[]" per array
// dimension; built-in types as format_type() prints them (PostgreSQL's own rendering, always
// valid input). DDL takes no $n parameters, so the two kinds of values it needs are spelled
// here: enum labels as string literals (literal), and constant defaults as the source's
// pg_get_expr() text. That text is the one place where SQL from the source catalog goes into a
// statement, and only after Describe decided from its expression tree that it is a constant
// (constant.go); it is parenthesized so that it stays one expression whatever it looks like.

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// literal spells s as a string literal that means s whatever standard_conforming_strings is:
// an escape string (E'…') when s has a backslash, with both escaped, a plain literal otherwise.
func literal(s string) string {
	q := strings.ReplaceAll(s, "'", "''")
	if strings.Contains(s, `\`) {
		return "E'" + strings.ReplaceAll(q, `\`, `\\`) + "'"
	}
	return "'" + q + "'"
}

// typeName renders a type use.
func typeName(r TypeRef) string {
	s := r.Builtin
	if s == "" {
		s = r.Type.Ident() + r.Modifier
	}
	return s + strings.Repeat("[]", r.Dims)
}

func collate(c Name) string {
	if c.IsZero() {
		return ""
	}
	return " COLLATE " + c.Ident()
}

// defaultClause is the DEFAULT of a constant (see the comment at the top).
func defaultClause(expr string) string {
	if expr == "" {
		return ""
	}
	return " DEFAULT (" + expr + ")"
}

// CreateSchema creates a schema unless it exists.
func CreateSchema(name string) string { return "CREATE SCHEMA IF NOT EXISTS " + ident(name) }

// CreateType is the statement creating t.
func CreateType(t *Type) string {
	switch t.Kind {
	case Enum:
		labels := make([]string, len(t.Labels))
		for i, l := range t.Labels {
			labels[i] = literal(l)
		}
		return "CREATE TYPE " + t.Name.Ident() + " AS ENUM (" + strings.Join(labels, ", ") + ")"
	case Composite:
		attrs := make([]string, len(t.Attributes))
		for i, a := range t.Attributes {
			attrs[i] = "\n  " + ident(a.Name) + " " + typeName(a.Type) + collate(a.Collation)
		}
		return "CREATE TYPE " + t.Name.Ident() + " AS (" + strings.Join(attrs, ",") + "\n)"
	case Domain:
		s := "CREATE DOMAIN " + t.Name.Ident() + " AS " + typeName(t.Base) + collate(t.Collation)
		if t.NotNull {
			s += " NOT NULL"
		}
		return s + defaultClause(t.Default)
	case Range:
		opts := []string{"SUBTYPE = " + typeName(t.Subtype)}
		if !t.SubtypeOpclass.IsZero() {
			opts = append(opts, "SUBTYPE_OPCLASS = "+t.SubtypeOpclass.Ident())
		}
		if !t.Collation.IsZero() {
			opts = append(opts, "COLLATION = "+t.Collation.Ident())
		}
		if !t.MultirangeName.IsZero() {
			opts = append(opts, "MULTIRANGE_TYPE_NAME = "+t.MultirangeName.Ident())
		}
		return "CREATE TYPE " + t.Name.Ident() + " AS RANGE (" + strings.Join(opts, ", ") + ")"
	}
	return "" // no other kinds are described
}

// AddEnumLabel adds label to enum n, placed after (or, with before, before) the existing label
// neighbour; anywhere (at the end) when neighbour is empty.
func AddEnumLabel(n Name, label, neighbour string, before bool) string {
	s := "ALTER TYPE " + n.Ident() + " ADD VALUE IF NOT EXISTS " + literal(label)
	switch {
	case neighbour == "":
	case before:
		s += " BEFORE " + literal(neighbour)
	default:
		s += " AFTER " + literal(neighbour)
	}
	return s
}

// CreateTable creates the table with its columns, NOT NULLs, constant defaults and primary key;
// identity and generated columns are plain columns.
func CreateTable(t *Table) string {
	var parts []string
	for _, c := range t.Columns {
		s := "\n  " + ident(c.Name) + " " + typeName(c.Type) + collate(c.Collation)
		if c.NotNull {
			s += " NOT NULL"
		}
		parts = append(parts, s+defaultClause(c.Default))
	}
	if len(t.PrimaryKey) > 0 {
		keys := make([]string, len(t.PrimaryKey))
		for i, k := range t.PrimaryKey {
			keys[i] = ident(k)
		}
		s := "\n  "
		if t.PrimaryKeyName != "" {
			s += "CONSTRAINT " + ident(t.PrimaryKeyName) + " "
		}
		parts = append(parts, s+"PRIMARY KEY ("+strings.Join(keys, ", ")+")")
	}
	return "CREATE TABLE " + t.Name.Ident() + " (" + strings.Join(parts, ",") + "\n)"
}
