package schema

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

// NotFoundError: the source has no table of that name.
type NotFoundError struct{ Table Name }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("table %s does not exist on the source", e.Table)
}

// UnsupportedError: a column needs a type this package cannot create, such as a table's row
// type or a base type written in C outside an extension. The user creates the table.
type UnsupportedError struct {
	Table  Name
	Reason string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("table %s cannot be created on the replica: %s; create it there yourself", e.Table, e.Reason)
}

// ExtensionError: the replica lacks an extension whose types the table needs.
type ExtensionError struct {
	Table     Name
	Extension string
}

func (e *ExtensionError) Error() string {
	ext := pgx.Identifier{e.Extension}.Sanitize()
	return fmt.Sprintf("table %s needs extension %s on the replica: CREATE EXTENSION %s", e.Table, ext, ext)
}

// PrivilegeError: the replicator's role may not create something Ensure must create. Grant is
// the statement an administrator runs.
type PrivilegeError struct {
	Table Name
	What  string // "schema \"s\"", "table \"s\".\"t\"", "type \"s\".\"e\""
	Grant string
}

func (e *PrivilegeError) Error() string {
	return fmt.Sprintf("table %s: the replicator's role may not create %s on the replica: %s", e.Table, e.What, e.Grant)
}

// grant is the GRANT for creating in a schema, or in the database when schema is empty.
func grant(db, schema, role string) string {
	if schema == "" {
		return "GRANT CREATE ON DATABASE " + pgx.Identifier{db}.Sanitize() + " TO " + pgx.Identifier{role}.Sanitize()
	}
	return "GRANT CREATE ON SCHEMA " + pgx.Identifier{schema}.Sanitize() + " TO " + pgx.Identifier{role}.Sanitize()
}
