package schema

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
)

// Catalog statements of Describe. Each reads whole rows before the next one runs (Querier is
// one session). A type use is read as: its element type (the type itself when it is not an
// array), whether it is an array, the declared dimensions, and format_type of the element with
// and without the modifier.

const tableSQL = `SELECT c.oid FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`

// attributesSQL lists the live attributes of relation $1 (a table or a composite type's).
const attributesSQL = `SELECT a.attname::text,
       coalesce(e.oid, a.atttypid), e.oid IS NOT NULL, a.attndims::int,
       pg_catalog.format_type(coalesce(e.oid, a.atttypid), a.atttypmod),
       pg_catalog.format_type(coalesce(e.oid, a.atttypid), NULL),
       coalesce(cn.nspname::text, ''), coalesce(co.collname::text, ''),
       a.attnotnull, a.attidentity::text, a.attgenerated <> '',
       coalesce(d.adbin::text, ''), coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), ''), a.attnum::int
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_type e ON e.typarray = a.atttypid
LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation AND a.attcollation <> t.typcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`

// primaryKeySQL: the primary key's name and key columns in key order (not INCLUDE columns).
const primaryKeySQL = `SELECT con.conname::text, array_agg(a.attname::text ORDER BY k.ord)
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_index i ON i.indexrelid = con.conindid
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
WHERE con.conrelid = $1 AND con.contype = 'p' AND k.ord <= i.indnkeyatts
GROUP BY con.conname`

// immutableSQL keeps the functions of $1 that are IMMUTABLE and in pg_catalog.
const immutableSQL = `SELECT p.oid FROM pg_catalog.pg_proc p
WHERE p.oid = ANY($1::oid[]) AND p.provolatile = 'i' AND p.pronamespace = 'pg_catalog'::regnamespace`

// searchPathSQL pins search_path to pg_catalog for Describe's statements, so that
// pg_get_expr and format_type qualify every name outside pg_catalog ('a'::"s"."e"): the text
// must mean the same on a replica session with any search_path. It returns the old setting.
const searchPathSQL = `SELECT current_setting('search_path'), set_config('search_path', 'pg_catalog', false)`

const restoreSearchPathSQL = `SELECT set_config('search_path', $1, false)`

// Describe reads table schema.name and the types it needs from the source catalog.
func Describe(ctx context.Context, q Querier, schema, table string) (t *Table, err error) {
	name := Name{Schema: schema, Name: table}
	var old string
	if err := q.QueryRow(ctx, searchPathSQL).Scan(&old, nil); err != nil {
		return nil, fmt.Errorf("describe %s: set search_path: %w", name, err)
	}
	defer func() {
		// The caller's session gets its setting back even when ctx has ended.
		rerr := q.QueryRow(context.WithoutCancel(ctx), restoreSearchPathSQL, old).Scan(nil)
		if rerr != nil && err == nil {
			t, err = nil, fmt.Errorf("describe %s: restore search_path: %w", name, rerr)
		}
	}()
	d := &describer{ctx: ctx, q: q, table: name, seen: map[uint32]*typeInfo{}, exts: map[string]Extension{}}
	t, err = d.describe()
	if err != nil {
		var nf *NotFoundError
		var un *UnsupportedError
		if errors.As(err, &nf) || errors.As(err, &un) {
			return nil, err
		}
		return nil, fmt.Errorf("describe %s: %w", name, err)
	}
	return t, nil
}

// describer holds one Describe's state: the types seen so far and the defaults to check.
type describer struct {
	ctx      context.Context
	q        Querier
	table    Name
	seen     map[uint32]*typeInfo
	types    []Type
	exts     map[string]Extension
	defaults []pendingDefault
}

// pendingDefault is a default whose constness is decided once all functions are known.
type pendingDefault struct {
	tree, text string
	set        func(text string, constant bool)
}

func (d *describer) describe() (*Table, error) {
	var relid uint32
	err := d.q.QueryRow(d.ctx, tableSQL, d.table.Schema, d.table.Name).Scan(&relid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &NotFoundError{Table: d.table}
	}
	if err != nil {
		return nil, err
	}
	t := &Table{Name: d.table}
	attrs, err := d.attributes(relid)
	if err != nil {
		return nil, err
	}
	for i, a := range attrs {
		c := Column{Name: a.name, Attnum: a.attnum, Collation: a.collation, NotNull: a.notNull, Identity: a.identity, Generated: a.generated}
		if c.Type, err = d.ref(a.use); err != nil {
			return nil, err
		}
		t.Columns = append(t.Columns, c)
		// A generated column's pg_attrdef entry is its generation expression, not a default.
		if a.tree != "" && !a.generated {
			d.defaults = append(d.defaults, pendingDefault{tree: a.tree, text: a.text, set: func(text string, constant bool) {
				if constant {
					t.Columns[i].Default = text
				} else {
					t.Columns[i].OmittedDefault = text
				}
			}})
		}
	}
	if err := d.primaryKey(relid, t); err != nil {
		return nil, err
	}
	if err := d.checkDefaults(); err != nil {
		return nil, err
	}
	t.Types = d.types
	for _, e := range d.exts {
		t.Extensions = append(t.Extensions, e)
	}
	sort.Slice(t.Extensions, func(i, j int) bool { return t.Extensions[i].Name < t.Extensions[j].Name })
	return t, nil
}

// attribute is a row of attributesSQL.
type attribute struct {
	name                 string
	use                  typeUse
	collation            Name
	notNull, generated   bool
	identity, tree, text string
	attnum               int
}

func (d *describer) attributes(relid uint32) ([]attribute, error) {
	rows, err := d.q.Query(d.ctx, attributesSQL, relid)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (attribute, error) {
		var a attribute
		err := r.Scan(&a.name, &a.use.elem, &a.use.array, &a.use.dims, &a.use.full, &a.use.bare,
			&a.collation.Schema, &a.collation.Name, &a.notNull, &a.identity, &a.generated, &a.tree, &a.text, &a.attnum)
		return a, err
	})
}

func (d *describer) primaryKey(relid uint32, t *Table) error {
	err := d.q.QueryRow(d.ctx, primaryKeySQL, relid).Scan(&t.PrimaryKeyName, &t.PrimaryKey)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}

// checkDefaults decides which pending defaults are constants: constant trees whose functions
// are all immutable pg_catalog functions.
func (d *describer) checkDefaults() error {
	var all []uint32
	funcs := make([][]uint32, len(d.defaults))
	ok := make([]bool, len(d.defaults))
	for i, p := range d.defaults {
		funcs[i], ok[i] = constantTree(p.tree)
		all = append(all, funcs[i]...)
	}
	immutable := map[uint32]bool{}
	if len(all) > 0 {
		rows, err := d.q.Query(d.ctx, immutableSQL, all)
		if err != nil {
			return fmt.Errorf("check defaults: %w", err)
		}
		oids, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
		if err != nil {
			return fmt.Errorf("check defaults: %w", err)
		}
		for _, o := range oids {
			immutable[o] = true
		}
	}
	for i, p := range d.defaults {
		constant := ok[i]
		for _, f := range funcs[i] {
			constant = constant && immutable[f]
		}
		p.set(p.text, constant)
	}
	return nil
}
