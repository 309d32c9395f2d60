package schema

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// typeSQL describes type $1: name, kind, its relation's kind (composites) and the extension
// it belongs to, if any (pg_depend deptype 'e': created by CREATE EXTENSION).
const typeSQL = `SELECT n.nspname::text, t.typname::text, t.typtype::text, t.typrelid,
       coalesce(r.relkind::text, ''), coalesce(x.extname::text, ''), coalesce(xn.nspname::text, '')
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_class r ON r.oid = t.typrelid
LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid
     AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
LEFT JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid
LEFT JOIN pg_catalog.pg_namespace xn ON xn.oid = x.extnamespace
WHERE t.oid = $1`

const enumSQL = `SELECT enumlabel::text FROM pg_catalog.pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder`

// domainSQL: base type use, collation when not the base's, NOT NULL, default tree and text.
const domainSQL = `SELECT coalesce(e.oid, t.typbasetype), e.oid IS NOT NULL, t.typndims,
       pg_catalog.format_type(coalesce(e.oid, t.typbasetype), t.typtypmod),
       pg_catalog.format_type(coalesce(e.oid, t.typbasetype), NULL),
       coalesce(cn.nspname::text, ''), coalesce(co.collname::text, ''),
       t.typnotnull, coalesce(t.typdefaultbin::text, ''), coalesce(pg_catalog.pg_get_expr(t.typdefaultbin, 0), '')
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_type b ON b.oid = t.typbasetype
LEFT JOIN pg_catalog.pg_type e ON e.typarray = t.typbasetype
LEFT JOIN pg_catalog.pg_collation co ON co.oid = t.typcollation AND t.typcollation <> b.typcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
WHERE t.oid = $1`

// rangeSQL: subtype use, whether there is a canonical function, the operator class when not
// the default, the collation when not the subtype's, the multirange's name. rngmultitypid is
// read through to_jsonb because PostgreSQL 13 has no such column (nor multiranges).
const rangeSQL = `SELECT coalesce(e.oid, r.rngsubtype), e.oid IS NOT NULL,
       pg_catalog.format_type(coalesce(e.oid, r.rngsubtype), NULL),
       r.rngcanonical::oid <> 0,
       CASE WHEN oc.opcdefault THEN '' ELSE ocn.nspname::text END, CASE WHEN oc.opcdefault THEN '' ELSE oc.opcname::text END,
       coalesce(cn.nspname::text, ''), coalesce(co.collname::text, ''),
       coalesce(mn.nspname::text, ''), coalesce(m.typname::text, '')
FROM pg_catalog.pg_range r
JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype
LEFT JOIN pg_catalog.pg_type e ON e.typarray = r.rngsubtype
JOIN pg_catalog.pg_opclass oc ON oc.oid = r.rngsubopc
JOIN pg_catalog.pg_namespace ocn ON ocn.oid = oc.opcnamespace
LEFT JOIN pg_catalog.pg_collation co ON co.oid = r.rngcollation AND r.rngcollation <> st.typcollation
LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_catalog.pg_type m ON m.oid = (to_jsonb(r.*) ->> 'rngmultitypid')::oid
LEFT JOIN pg_catalog.pg_namespace mn ON mn.oid = m.typnamespace
WHERE r.rngtypid = $1`

const multirangeSQL = `SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE (to_jsonb(r.*) ->> 'rngmultitypid')::oid = $1`

// typeUse is how an attribute, a domain or a range uses a type (see describe.go).
type typeUse struct {
	elem       uint32
	array      bool
	dims       int
	full, bare string
}

// typeInfo is what Describe learnt about one type.
type typeInfo struct {
	name      Name
	builtin   bool
	extension string
	visiting  bool
}

// modifierRE is what a type modifier may look like before it goes into a statement: it is
// catalog text (the type's typmodout output), so only a plain parenthesized list passes.
var modifierRE = regexp.MustCompile(`^\([A-Za-z0-9_, ]*\)$`)

// ref resolves a type use, describing the type (and what it needs) on first sight.
func (d *describer) ref(u typeUse) (TypeRef, error) {
	info, err := d.info(u.elem)
	if err != nil {
		return TypeRef{}, err
	}
	r := TypeRef{}
	if u.array {
		r.Dims = max(1, u.dims)
	}
	if info.builtin {
		r.Builtin = u.full
		return r, nil
	}
	r.Type, r.Extension = info.name, info.extension
	if mod := strings.TrimPrefix(u.full, u.bare); mod != "" {
		if !strings.HasPrefix(u.full, u.bare) || !modifierRE.MatchString(mod) {
			return TypeRef{}, d.unsupported("type %s has a modifier this package cannot copy: %q", info.name, u.full)
		}
		r.Modifier = mod
	}
	return r, nil
}

func (d *describer) unsupported(format string, args ...any) error {
	return &UnsupportedError{Table: d.table, Reason: fmt.Sprintf(format, args...)}
}

// info describes type oid once. A user-defined type is appended to d.types after the types it
// needs, so creating them in order always works.
func (d *describer) info(oid uint32) (*typeInfo, error) {
	if in, ok := d.seen[oid]; ok {
		if in.visiting {
			return nil, d.unsupported("type %s contains itself", in.name)
		}
		return in, nil
	}
	var (
		in                            typeInfo
		kind, relkind, ext, extSchema string
		relid                         uint32
	)
	err := d.q.QueryRow(d.ctx, typeSQL, oid).Scan(&in.name.Schema, &in.name.Name, &kind, &relid, &relkind, &ext, &extSchema)
	if err != nil {
		return nil, fmt.Errorf("type %d: %w", oid, err)
	}
	d.seen[oid] = &in
	switch {
	case ext != "": // first: an extension may install its types in pg_catalog
		in.extension = ext
		d.exts[ext] = Extension{Name: ext, Schema: extSchema}
		return &in, nil
	case in.name.Schema == "pg_catalog":
		in.builtin = true
		return &in, nil
	}
	in.visiting = true
	ty, err := d.userType(oid, in.name, kind, relid, relkind)
	in.visiting = false
	if err != nil {
		return nil, err
	}
	if ty != nil {
		d.types = append(d.types, *ty)
	}
	return &in, nil
}

// userType describes a type outside pg_catalog and outside any extension; nil for a
// multirange, which its range type creates.
func (d *describer) userType(oid uint32, name Name, kind string, relid uint32, relkind string) (*Type, error) {
	switch kind {
	case "e":
		rows, err := d.q.Query(d.ctx, enumSQL, oid)
		if err != nil {
			return nil, fmt.Errorf("enum %s: %w", name, err)
		}
		labels, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("enum %s: %w", name, err)
		}
		return &Type{Name: name, Kind: Enum, Labels: labels}, nil
	case "c":
		if relkind != "c" {
			return nil, d.unsupported("a column has the row type of table %s", name)
		}
		return d.composite(name, relid)
	case "d":
		return d.domain(oid, name)
	case "r":
		return d.rangeType(oid, name)
	case "m":
		var rng uint32
		if err := d.q.QueryRow(d.ctx, multirangeSQL, oid).Scan(&rng); err != nil {
			return nil, fmt.Errorf("multirange %s: %w", name, err)
		}
		_, err := d.info(rng)
		return nil, err
	}
	return nil, d.unsupported("type %s is a base or pseudo type outside any extension", name)
}

func (d *describer) composite(name Name, relid uint32) (*Type, error) {
	attrs, err := d.attributes(relid)
	if err != nil {
		return nil, fmt.Errorf("composite %s: %w", name, err)
	}
	ty := &Type{Name: name, Kind: Composite}
	for _, a := range attrs {
		ref, err := d.ref(a.use)
		if err != nil {
			return nil, err
		}
		ty.Attributes = append(ty.Attributes, Attribute{Name: a.name, Type: ref, Collation: a.collation})
	}
	return ty, nil
}

// domain describes a domain; its default waits in d.defaults for the constness check.
func (d *describer) domain(oid uint32, name Name) (*Type, error) {
	var (
		u          typeUse
		ty         = &Type{Name: name, Kind: Domain}
		tree, text string
	)
	err := d.q.QueryRow(d.ctx, domainSQL, oid).Scan(&u.elem, &u.array, &u.dims, &u.full, &u.bare,
		&ty.Collation.Schema, &ty.Collation.Name, &ty.NotNull, &tree, &text)
	if err != nil {
		return nil, fmt.Errorf("domain %s: %w", name, err)
	}
	if ty.Base, err = d.ref(u); err != nil {
		return nil, err
	}
	if tree != "" {
		d.defaults = append(d.defaults, pendingDefault{tree: tree, text: text, set: func(text string, constant bool) {
			ty := d.typeNamed(name) // in d.types once info has appended it
			if ty == nil {
				return
			}
			if constant {
				ty.Default = text
			} else {
				ty.OmittedDefault = text
			}
		}})
	}
	return ty, nil
}

func (d *describer) typeNamed(n Name) *Type {
	for i := range d.types {
		if d.types[i].Name == n {
			return &d.types[i]
		}
	}
	return nil
}

func (d *describer) rangeType(oid uint32, name Name) (*Type, error) {
	var (
		u         typeUse
		canonical bool
		ty        = &Type{Name: name, Kind: Range}
	)
	err := d.q.QueryRow(d.ctx, rangeSQL, oid).Scan(&u.elem, &u.array, &u.bare, &canonical,
		&ty.SubtypeOpclass.Schema, &ty.SubtypeOpclass.Name, &ty.Collation.Schema, &ty.Collation.Name,
		&ty.MultirangeName.Schema, &ty.MultirangeName.Name)
	if err != nil {
		return nil, fmt.Errorf("range %s: %w", name, err)
	}
	if canonical {
		// A canonical function of a user-defined range is written in C: nothing to copy.
		return nil, d.unsupported("range type %s has a canonical function", name)
	}
	u.full = u.bare // a range's subtype has no modifier
	if ty.Subtype, err = d.ref(u); err != nil {
		return nil, err
	}
	return ty, nil
}
