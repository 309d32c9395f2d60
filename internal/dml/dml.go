// Package dml builds every dynamic SQL statement the replicator runs against a replica.
// It is pure: no database, no I/O. Identifiers enter the SQL only through
// pgx.Identifier.Sanitize and values only as $n parameters, so a table or column named
// `a"; DROP TABLE x; --` is just a name.
//
// Statement parameters, shared by all builders:
//
//	$1  oid      the table's relid (bookkeeping rows are keyed by it)
//	$2  bigint[] change versions
//	$3  text[]   row images (upserts), key images (deletes) or images (keyless), JSON text
//	             exactly as captured: the replica's own input functions parse every value
//	             through json_populate_record.
package dml

import (
	"strings"

	"github.com/jackc/pgx/v5"
)

// Column is one live column of a replica table.
type Column struct {
	Name string
	// Generated is a GENERATED ALWAYS AS (…) STORED column: the replica computes it, so it is
	// never written nor compared.
	Generated bool
	// IdentityAlways is GENERATED ALWAYS AS IDENTITY: written with OVERRIDING SYSTEM VALUE and
	// never in an UPDATE SET list, which PostgreSQL refuses for such columns.
	IdentityAlways bool
}

// Table is a replica table as its catalog describes it.
type Table struct {
	Schema  string
	Name    string
	Columns []Column // live columns in attnum order, i.e. the order of the table's row type
	Key     []string // primary key columns in index order; empty for a keyless table
}

// Keyless reports whether the table has no primary key.
func (t *Table) Keyless() bool { return len(t.Key) == 0 }

// Ident is the schema-qualified, quoted table name; it also names the table's row type.
func (t *Table) Ident() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// Writable lists the columns that rows may set, in table order.
func (t *Table) Writable() []string {
	var cols []string
	for _, c := range t.Columns {
		if !c.Generated {
			cols = append(cols, c.Name)
		}
	}
	return cols
}

// AllColumns lists every live column name in table order.
func (t *Table) AllColumns() []string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = c.Name
	}
	return cols
}

func (t *Table) column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func pgxIdent(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// list renders "<prefix><col><suffix>, …" for each column.
func list(cols []string, prefix, suffix string) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prefix)
		b.WriteString(ident(c))
		b.WriteString(suffix)
	}
	return b.String()
}

// keyArray is the canonical bookkeeping key of a row: a jsonb array of its primary key
// values as the replica's types see them. Building it from typed values (not from the
// captured JSON) makes two spellings of one value, such as timestamptz written under
// different TimeZone settings, the same key.
func keyArray(t *Table, rec string) string {
	return "jsonb_build_array(" + list(t.Key, rec+".", "") + ")"
}

// relid is $1 as the regclass the bookkeeping tables store.
const relid = "$1::oid::regclass"

// watermark is the table's truncation version (0 if never truncated). Read in a statement
// that runs after the table lock, so a concurrent TRUNCATE is either fully visible or waits.
const watermark = "coalesce((SELECT w.version FROM pgfanout.truncations w WHERE w.relid = " + relid + "), 0)"

// LockMode is the table lock an apply transaction takes before touching a table.
type LockMode string

const (
	// RowExclusive lets keyed upserts and deletes of many transactions run side by side
	// (row_versions row locks order them per key) while excluding a concurrent TRUNCATE.
	RowExclusive LockMode = "ROW EXCLUSIVE"
	// ShareRowExclusive serializes keyless reconciles and truncations of one table; readers
	// are never blocked.
	ShareRowExclusive LockMode = "SHARE ROW EXCLUSIVE"
)

// Lock is the statement that takes the table lock.
func Lock(t *Table, mode LockMode) string {
	return "LOCK TABLE " + t.Ident() + " IN " + string(mode) + " MODE"
}

// parseImage is a LATERAL join parsing the row image img (a text expression) into alias(rec)
// of t's row type. OFFSET 0 keeps the planner from flattening the subquery: flattened, it
// evaluates json_populate_record again for every (alias.rec).column the statement reads (the
// key columns, then each column written), so a 5-column row was parsed 5 times or more.
func parseImage(t *Table, img, alias string) string {
	return "CROSS JOIN LATERAL (SELECT json_populate_record(NULL::" + t.Ident() + ", " + img + "::json) OFFSET 0) AS " + alias + "(rec)"
}
