// Package schema creates a tracked table that a replica lacks from the source's definition
// (docs/schema.md): Describe reads the table and every user-defined type its columns need from
// the source catalog, the builders (ddl.go) turn that into DDL without any I/O, and Ensure runs
// the DDL on the replica, creating only what is missing.
//
// What is created: columns with their types, NOT NULL, the primary key and constant defaults;
// enums, domains (without their CHECKs), composites, ranges and arrays of them. What is not:
// indexes, other constraints, non-constant defaults; identity and generated columns become plain
// columns (the replicator writes the source's values into them). Extensions are never created:
// their types are reported as needing the extension.
package schema

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Querier reads the source catalog. It must be one session (a *pgx.Conn or a pgx.Tx, e.g. in
// the REPEATABLE READ snapshot a copy reads from), not a pool: Describe sets search_path for its
// own statements and restores it afterwards.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Beginner opens the replica transaction Ensure works in: a *pgxpool.Pool or a *pgx.Conn.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Name is a schema-qualified object name as the catalog spells it (unquoted).
type Name struct {
	Schema string
	Name   string
}

// Ident is the quoted, qualified name.
func (n Name) Ident() string { return pgx.Identifier{n.Schema, n.Name}.Sanitize() }

// String is the same as Ident: unambiguous in messages.
func (n Name) String() string { return n.Ident() }

// IsZero reports an unset name (no collation, no operator class).
func (n Name) IsZero() bool { return n == Name{} }

// TypeRef is a use of a type by a column, a composite attribute, a domain or a range.
type TypeRef struct {
	// Builtin is format_type() of a pg_catalog type with its modifier ("numeric(12,2)",
	// "timestamp(3) with time zone"); for an array, of its element type. Empty for any other type.
	Builtin string
	// Type names a type outside pg_catalog (for an array, its element type).
	Type Name
	// Modifier is the type's modifier as its typmodout function prints it, e.g. "(10)";
	// only for types outside pg_catalog (extension types such as PostGIS's geometry(Point,4326)).
	Modifier string
	// Dims is the number of array dimensions, 0 for a scalar.
	Dims int
	// Extension names the extension the type belongs to; such a type is never created.
	Extension string
}

// Kind is the kind of a user-defined type.
type Kind string

const (
	Enum      Kind = "enum"
	Composite Kind = "composite"
	Domain    Kind = "domain"
	Range     Kind = "range"
)

// Attribute is one attribute of a composite type.
type Attribute struct {
	Name      string
	Type      TypeRef
	Collation Name // zero: the type's default
}

// Type is a user-defined type a table needs.
type Type struct {
	Name Name
	Kind Kind

	Labels []string // enum, in enum order

	Attributes []Attribute // composite, in attribute order

	// Domain: Base with NotNull and Default (a constant's pg_get_expr text, see Column.Default).
	// The domain's CHECK constraints are left out on purpose: the source enforced them before a
	// value was written, and they may call functions the replica does not have.
	Base           TypeRef
	NotNull        bool
	Default        string
	OmittedDefault string // a non-constant default of the source's domain, not created

	// Range: Subtype, with SubtypeOpclass when not the subtype's default operator class, and
	// MultirangeName (PostgreSQL >= 14). A subtype_diff function is left out: it only helps
	// GiST indexes, and it may be a function the replica lacks.
	Subtype        TypeRef
	SubtypeOpclass Name
	MultirangeName Name

	Collation Name // domain or range; zero: the base type's default
}

// Column is one live column of the source table.
type Column struct {
	Name      string
	Attnum    int // the column's number in the table: it survives a RENAME (0 for composite attributes' uses)
	Type      TypeRef
	Collation Name // zero: the type's default
	NotNull   bool
	// Default is the source default as pg_get_expr prints it, set only when it is a constant
	// (constant.go); a default that is not is kept in OmittedDefault and not created.
	Default        string
	OmittedDefault string
	// Identity ('a' ALWAYS, 'd' BY DEFAULT) and Generated record what the column is on the
	// source; on the replica both are plain columns that receive the source's values.
	Identity  string
	Generated bool
}

// Extension is an extension whose types the table needs, with the schema it is installed in
// on the source.
type Extension struct {
	Name   string
	Schema string
}

// Table is a source table and everything needed to create it on a replica.
type Table struct {
	Name           Name
	Columns        []Column // live columns in attnum order
	PrimaryKey     []string // in key order; empty for a keyless table
	PrimaryKeyName string   // the constraint's name on the source
	// Types lists the user-defined types the columns need, each after the types it needs.
	Types      []Type
	Extensions []Extension // sorted by name
}

// walkRefs calls f on every type reference of the table and its types.
func (t *Table) walkRefs(f func(*TypeRef)) {
	for i := range t.Columns {
		f(&t.Columns[i].Type)
	}
	for i := range t.Types {
		ty := &t.Types[i]
		for j := range ty.Attributes {
			f(&ty.Attributes[j].Type)
		}
		f(&ty.Base)
		f(&ty.Subtype)
	}
}

// clone copies the table deeply enough for Ensure to rewrite references and options.
func (t *Table) clone() *Table {
	c := *t
	c.Columns = append([]Column(nil), t.Columns...)
	c.Types = make([]Type, len(t.Types))
	for i, ty := range t.Types {
		ty.Attributes = append([]Attribute(nil), ty.Attributes...)
		c.Types[i] = ty
	}
	return &c
}
