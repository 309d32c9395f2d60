package schema

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// LockKey is the transaction advisory lock Ensure holds on the replica ("pgfschem" in ASCII).
// One key for every table: tables share types, so two replicators creating different tables
// could still race on one type, and CREATE … IF NOT EXISTS races with itself.
const LockKey int64 = 0x7067_6673_6368_656d

// Replica statements of Ensure.
const (
	lockSQL = `SELECT pg_advisory_xact_lock($1)`
	// Unqualified names in the DDL (built-in types, the functions of constant defaults) are
	// pg_catalog's, as when Describe rendered them on the source.
	replicaEnvSQL = `SELECT set_config('search_path', 'pg_catalog', true), current_user::text,
       current_database()::text, current_setting('server_version_num')::int`
	relkindSQL = `SELECT c.relkind::text FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`
	extensionSchemaSQL = `SELECT n.nspname::text FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = $1`
	schemaExistsSQL = `SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1)`
	canCreateDBSQL  = `SELECT has_database_privilege(current_database(), 'CREATE')`
	canCreateInSQL  = `SELECT has_schema_privilege(n.oid, 'CREATE') FROM pg_catalog.pg_namespace n WHERE n.nspname = $1`
	typeKindSQL     = `SELECT t.typtype::text FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 AND t.typname = $2`
	enumLabelsSQL = `SELECT e.enumlabel::text FROM pg_catalog.pg_enum e
JOIN pg_catalog.pg_type t ON t.oid = e.enumtypid
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = $1 AND t.typname = $2 ORDER BY e.enumsortorder`
)

// minVersion is the oldest replica supported: ALTER TYPE … ADD VALUE runs inside a transaction
// block only from PostgreSQL 12 on, and pgfanout supports 13 and later.
const minVersion = 130000

// Result says what Ensure created; all empty and Table false when the table existed.
type Result struct {
	Schemas []string
	Types   []Name
	Labels  []Label // labels added to enums that existed
	Table   bool
}

// Label is an enum label Ensure added.
type Label struct {
	Type  Name
	Label string
}

// Created reports whether Ensure created anything.
func (r Result) Created() bool {
	return r.Table || len(r.Schemas) > 0 || len(r.Types) > 0 || len(r.Labels) > 0
}

func (r *Result) add(o Result) {
	r.Schemas = append(r.Schemas, o.Schemas...)
	r.Types = append(r.Types, o.Types...)
	r.Labels = append(r.Labels, o.Labels...)
	r.Table = r.Table || o.Table
}

// Ensure creates table t on the replica unless a relation of that name exists there (it is
// never altered, and then nothing else is created either): first its schema and the types it
// needs that the replica lacks, adding the missing labels of enums that exist, then the table.
// It works in one transaction under LockKey, except that labels added to an existing enum are
// committed first in a transaction of their own: PostgreSQL refuses to use a label added in the
// same transaction, and a default or a domain's default may name one.
func Ensure(ctx context.Context, db Beginner, t *Table) (Result, error) {
	return ensure(ctx, db, t, false)
}

// EnsureTypes creates the schemas and types table t needs, and the labels its enums lack, as
// Ensure does, but never the table itself, which may exist: a column the table gains may need
// a type the replica does not have yet (internal/follow).
func EnsureTypes(ctx context.Context, db Beginner, t *Table) (Result, error) {
	return ensure(ctx, db, t, true)
}

func ensure(ctx context.Context, db Beginner, t *Table, typesOnly bool) (Result, error) {
	var res Result
	for _, final := range []bool{false, true} {
		var r Result
		again, err := ensureTx(ctx, db, t, &r, final, typesOnly)
		if err != nil {
			return res, ensureError(t.Name, err)
		}
		res.add(r)
		if !again {
			break
		}
	}
	return res, nil
}

// ensureError adds the table to an error, unless it is one of ours, which names it already.
func ensureError(table Name, err error) error {
	var (
		xe *ExtensionError
		pe *PrivilegeError
	)
	if errors.As(err, &xe) || errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("create table %s on the replica: %w", table, err)
}

// ensureTx runs one transaction. again: it committed new labels only, and the rest follows in
// the next transaction (never when final).
func ensureTx(ctx context.Context, db Beginner, t *Table, res *Result, final, typesOnly bool) (again bool, err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	e := &ensurer{ctx: ctx, tx: tx, t: t.clone(), res: res, typesOnly: typesOnly}
	if _, err := tx.Exec(ctx, lockSQL, LockKey); err != nil {
		return false, fmt.Errorf("lock: %w", err)
	}
	exists, err := e.prepare()
	if err != nil {
		return false, err
	}
	if exists && !typesOnly {
		return false, tx.Commit(ctx)
	}
	create, labels, err := e.plan()
	if err != nil {
		return false, err
	}
	if len(labels) > 0 {
		if err := e.execAll(labels); err != nil {
			return false, err
		}
		if !final {
			return true, tx.Commit(ctx)
		}
	}
	if err := e.create(create); err != nil {
		return false, err
	}
	return false, tx.Commit(ctx)
}

// ensurer is one Ensure transaction; t is the caller's table with extension types moved to
// the schemas the replica installed the extensions in.
type ensurer struct {
	ctx            context.Context
	tx             pgx.Tx
	t              *Table
	res            *Result
	role, database string
	typesOnly      bool // EnsureTypes: everything but the table
}

// statement is DDL with what Result records once it ran.
type statement struct {
	sql   string
	label *Label
}

// prepare reads the replica's settings and checks the extensions. exists: the table exists.
func (e *ensurer) prepare() (exists bool, err error) {
	var version int
	if err := e.tx.QueryRow(e.ctx, replicaEnvSQL).Scan(nil, &e.role, &e.database, &version); err != nil {
		return false, err
	}
	if version < minVersion {
		return false, fmt.Errorf("the replica runs PostgreSQL %d; 13 or later is needed", version)
	}
	var relkind string
	err = e.tx.QueryRow(e.ctx, relkindSQL, e.t.Name.Schema, e.t.Name.Name).Scan(&relkind)
	switch {
	case err == nil && (relkind == "r" || relkind == "p" || relkind == "f") && !e.typesOnly:
		return true, nil
	case err == nil && (relkind == "r" || relkind == "p" || relkind == "f"):
		exists = true
	case err == nil:
		return false, fmt.Errorf("%s exists on the replica and is not a table (relkind %s)", e.t.Name, relkind)
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return false, err
	}
	if version < 140000 {
		for i := range e.t.Types {
			e.t.Types[i].MultirangeName = Name{} // created with its range from 14 on
		}
	}
	return exists, e.extensions()
}

// extensions checks that the replica has every extension the table needs and points the
// table's references to an extension's types at the schema the replica installed it in.
func (e *ensurer) extensions() error {
	for _, x := range e.t.Extensions {
		var schema string
		err := e.tx.QueryRow(e.ctx, extensionSchemaSQL, x.Name).Scan(&schema)
		if errors.Is(err, pgx.ErrNoRows) {
			return &ExtensionError{Table: e.t.Name, Extension: x.Name}
		}
		if err != nil {
			return err
		}
		e.t.walkRefs(func(r *TypeRef) {
			if r.Extension == x.Name && r.Type.Schema == x.Schema {
				r.Type.Schema = schema
			}
		})
	}
	return nil
}

// plan lists the types the replica lacks, in creation order, and the label additions of the
// enums it has.
func (e *ensurer) plan() (create []Type, labels []statement, err error) {
	for _, ty := range e.t.Types {
		var kind string
		err := e.tx.QueryRow(e.ctx, typeKindSQL, ty.Name.Schema, ty.Name.Name).Scan(&kind)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			create = append(create, ty)
		case err != nil:
			return nil, nil, fmt.Errorf("type %s: %w", ty.Name, err)
		case kind == "e" && ty.Kind == Enum:
			add, err := e.missingLabels(ty)
			if err != nil {
				return nil, nil, err
			}
			labels = append(labels, add...)
		}
	}
	return create, labels, nil
}

// missingLabels adds the source's labels the replica's enum lacks, each after the label that
// precedes it on the source (before the replica's first label when it is the source's first).
func (e *ensurer) missingLabels(ty Type) ([]statement, error) {
	rows, err := e.tx.Query(e.ctx, enumLabelsSQL, ty.Name.Schema, ty.Name.Name)
	if err != nil {
		return nil, fmt.Errorf("enum %s: %w", ty.Name, err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("enum %s: %w", ty.Name, err)
	}
	present := make(map[string]bool, len(have))
	for _, l := range have {
		present[l] = true
	}
	var out []statement
	prev := ""
	for _, l := range ty.Labels {
		if !present[l] {
			neighbour, before := prev, false
			if prev == "" && len(have) > 0 {
				neighbour, before = have[0], true
			}
			out = append(out, statement{sql: AddEnumLabel(ty.Name, l, neighbour, before), label: &Label{Type: ty.Name, Label: l}})
			present[l] = true
		}
		prev = l
	}
	return out, nil
}

func (e *ensurer) execAll(stmts []statement) error {
	for _, s := range stmts {
		if _, err := e.tx.Exec(e.ctx, s.sql); err != nil {
			return fmt.Errorf("%s: %w", s.sql, err)
		}
		if s.label != nil {
			e.res.Labels = append(e.res.Labels, *s.label)
		}
	}
	return nil
}
