package schema

// DDL builders for following a source table's shape changes on an existing replica table
// (internal/follow): pure functions, quoting as the other builders do.

// AddColumn adds column c to table t: its type, collation and, when it is a constant, its
// default. NOT NULL only comes with a constant default: without one the replica's existing rows
// would have no value to satisfy it (the source's got theirs from a volatile default, which is
// not created; their values arrive with a copy).
func AddColumn(t Name, c Column) string {
	s := "ALTER TABLE " + t.Ident() + " ADD COLUMN " + ident(c.Name) + " " + typeName(c.Type) + collate(c.Collation)
	s += defaultClause(c.Default)
	if c.NotNull && c.Default != "" {
		s += " NOT NULL"
	}
	return s
}

// DropColumn drops column name of table t.
func DropColumn(t Name, name string) string {
	return "ALTER TABLE " + t.Ident() + " DROP COLUMN " + ident(name)
}

// RenameColumn renames column from of table t to to.
func RenameColumn(t Name, from, to string) string {
	return "ALTER TABLE " + t.Ident() + " RENAME COLUMN " + ident(from) + " TO " + ident(to)
}

// AlterColumnType converts column c of table t to c's type (and collation) through the cast
// from its current type: the conversion the source's own ALTER would have done without a
// USING clause.
func AlterColumnType(t Name, c Column) string {
	ty := typeName(c.Type)
	return "ALTER TABLE " + t.Ident() + " ALTER COLUMN " + ident(c.Name) + " TYPE " + ty + collate(c.Collation) +
		" USING " + ident(c.Name) + "::" + ty
}

// DropNotNull lets column name of table t take NULLs.
func DropNotNull(t Name, name string) string {
	return "ALTER TABLE " + t.Ident() + " ALTER COLUMN " + ident(name) + " DROP NOT NULL"
}

// TypeText is how a column's type is spelled in DDL: two columns have the same type when
// their TypeTexts are equal.
func TypeText(c Column) string { return typeName(c.Type) + collate(c.Collation) }
