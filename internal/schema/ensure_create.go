package schema

import (
	"fmt"
)

// create makes the schemas that are missing, then types (in order), then the table, checking
// the privileges first so that a missing one is named as the GRANT an administrator runs.
func (e *ensurer) create(types []Type) error {
	schemas, what := e.schemas(types)
	for _, s := range schemas {
		if err := e.ensureSchema(s, what[s]); err != nil {
			return err
		}
	}
	for i := range types {
		if _, err := e.tx.Exec(e.ctx, CreateType(&types[i])); err != nil {
			return fmt.Errorf("create type %s: %w", types[i].Name, err)
		}
		e.res.Types = append(e.res.Types, types[i].Name)
	}
	if e.typesOnly {
		return nil
	}
	if _, err := e.tx.Exec(e.ctx, CreateTable(e.t)); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	e.res.Table = true
	return nil
}

// schemas lists the schemas something is created in, the table's first, and for each the
// first object created there (for messages).
func (e *ensurer) schemas(types []Type) ([]string, map[string]string) {
	var order []string
	what := map[string]string{}
	add := func(schema, object string) {
		if _, ok := what[schema]; !ok {
			order = append(order, schema)
			what[schema] = object
		}
	}
	if !e.typesOnly {
		add(e.t.Name.Schema, "table "+e.t.Name.Ident())
	}
	for _, ty := range types {
		add(ty.Name.Schema, "type "+ty.Name.Ident())
		if !ty.MultirangeName.IsZero() {
			add(ty.MultirangeName.Schema, "type "+ty.MultirangeName.Ident())
		}
	}
	return order, what
}

// ensureSchema creates schema s if it is missing (CREATE on the database needed) or checks
// that the role may create object in it (CREATE on the schema needed). A schema Ensure creates
// is the role's own.
func (e *ensurer) ensureSchema(s, object string) error {
	var exists, may bool
	if err := e.tx.QueryRow(e.ctx, schemaExistsSQL, s).Scan(&exists); err != nil {
		return fmt.Errorf("schema %s: %w", ident(s), err)
	}
	if exists {
		if err := e.tx.QueryRow(e.ctx, canCreateInSQL, s).Scan(&may); err != nil {
			return fmt.Errorf("schema %s: %w", ident(s), err)
		}
		if !may {
			return &PrivilegeError{Table: e.t.Name, What: object, Grant: grant(e.database, s, e.role)}
		}
		return nil
	}
	if err := e.tx.QueryRow(e.ctx, canCreateDBSQL).Scan(&may); err != nil {
		return fmt.Errorf("schema %s: %w", ident(s), err)
	}
	if !may {
		return &PrivilegeError{Table: e.t.Name, What: "schema " + ident(s), Grant: grant(e.database, "", e.role)}
	}
	if _, err := e.tx.Exec(e.ctx, CreateSchema(s)); err != nil {
		return fmt.Errorf("create schema %s: %w", ident(s), err)
	}
	e.res.Schemas = append(e.res.Schemas, s)
	return nil
}
