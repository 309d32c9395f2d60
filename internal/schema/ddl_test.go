package schema

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Every name of the fixtures needs quoting: quotes, dots, spaces, capitals, Unicode, SQL.
var (
	weirdSchema = `Sales "EU".v2`
	statusType  = Name{weirdSchema, `Status; DROP TYPE x; --`}
	moneyType   = Name{weirdSchema, "Mönëy"}
	addrType    = Name{weirdSchema, "addr.ess"}
	spanType    = Name{"public", "Float Range"}
)

func fixtureTypes() []Type {
	return []Type{
		{Name: statusType, Kind: Enum, Labels: []string{"new", "it's", `back\slash`, "größe", "{x}"}},
		{Name: moneyType, Kind: Domain, Base: TypeRef{Builtin: "numeric(12,2)"}, NotNull: true, Default: "0"},
		{Name: Name{weirdSchema, "Tags"}, Kind: Domain, Base: TypeRef{Type: statusType, Dims: 1},
			Collation: Name{"pg_catalog", "C"}, Default: `'{new}'::"Sales ""EU"".v2"."Status; DROP TYPE x; --"[]`},
		{Name: addrType, Kind: Composite, Attributes: []Attribute{
			{Name: "Street", Type: TypeRef{Builtin: "text"}, Collation: Name{"pg_catalog", "C"}},
			{Name: "zip code", Type: TypeRef{Builtin: "character varying(10)"}},
			{Name: "tägs", Type: TypeRef{Type: statusType, Dims: 1}},
			{Name: "m", Type: TypeRef{Type: moneyType}},
		}},
		{Name: spanType, Kind: Range, Subtype: TypeRef{Builtin: "double precision"},
			SubtypeOpclass: Name{"pg_catalog", "float8_ops"}, MultirangeName: Name{"public", "Float Multi"}},
		{Name: Name{"public", "textrange"}, Kind: Range, Subtype: TypeRef{Builtin: "text"}, Collation: Name{"pg_catalog", "C"}},
	}
}

func fixtureTable() *Table {
	return &Table{
		Name: Name{weirdSchema, `Ördérs; DROP TABLE x; --`},
		Columns: []Column{
			{Name: "Id", Type: TypeRef{Builtin: "bigint"}, NotNull: true, Identity: "a"},
			{Name: "line no", Type: TypeRef{Builtin: "integer"}, NotNull: true},
			{Name: "status", Type: TypeRef{Type: statusType}, NotNull: true, Default: `'new'::"Sales ""EU"".v2"."Status; DROP TYPE x; --"`},
			{Name: "amount", Type: TypeRef{Type: moneyType}},
			{Name: "addr", Type: TypeRef{Type: addrType}},
			{Name: "history", Type: TypeRef{Type: addrType, Dims: 2}},
			{Name: "span", Type: TypeRef{Type: spanType}},
			{Name: "created", Type: TypeRef{Builtin: "timestamp(3) with time zone"}, NotNull: true, OmittedDefault: "now()"},
			{Name: "names", Type: TypeRef{Builtin: "character varying(20)", Dims: 1}, Default: `'{a}'::character varying(20)[]`},
			{Name: "dur", Type: TypeRef{Builtin: "interval day to second"}},
			{Name: "total", Type: TypeRef{Builtin: "numeric"}, Generated: true},
			{Name: "note;--", Type: TypeRef{Builtin: "text"}, Collation: Name{"pg_catalog", "C"}, Default: "'x'::text"},
			{Name: "geo", Type: TypeRef{Type: Name{"ext", "geometry"}, Modifier: "(Point,4326)", Extension: "postgis"}},
		},
		PrimaryKey:     []string{"Id", "line no"},
		PrimaryKeyName: `Ördérs_pkey "x"`,
	}
}

var keylessTable = &Table{
	Name:    Name{"public", "Événements"},
	Columns: []Column{{Name: "kind", Type: TypeRef{Builtin: "text"}}, {Name: "x y", Type: TypeRef{Builtin: "jsonb"}}},
}

func statements() map[string]string {
	types := fixtureTypes()
	tb := fixtureTable()
	m := map[string]string{
		"create_schema.sql":        CreateSchema(weirdSchema),
		"create_table.sql":         CreateTable(fixtureTable()),
		"create_table_keyless.sql": CreateTable(keylessTable),
		"create_table_empty.sql":   CreateTable(&Table{Name: Name{"s", "t"}}),
		"add_label_after.sql":      AddEnumLabel(statusType, "it's", "new", false),
		"add_label_before.sql":     AddEnumLabel(statusType, `back\slash`, "größe", true),
		"add_label_end.sql":        AddEnumLabel(statusType, "new", "", false),
		"add_column.sql":           AddColumn(tb.Name, tb.Columns[2]),
		"add_column_volatile.sql":  AddColumn(tb.Name, tb.Columns[7]),
		"drop_column.sql":          DropColumn(tb.Name, "note;--"),
		"rename_column.sql":        RenameColumn(tb.Name, "line no", "note;--"),
		"alter_column_type.sql":    AlterColumnType(tb.Name, tb.Columns[12]),
		"drop_not_null.sql":        DropNotNull(tb.Name, "line no"),
	}
	for i, name := range []string{"enum", "domain", "domain_array", "composite", "range", "range_collation"} {
		m["create_type_"+name+".sql"] = CreateType(&types[i])
	}
	return m
}

// TestGolden pins every statement shape; review testdata/*.sql diffs like code.
func TestGolden(t *testing.T) {
	for name, sql := range statements() {
		path := filepath.Join("testdata", name)
		if *update {
			require.NoError(t, os.WriteFile(path, []byte(sql+"\n"), 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run go test ./internal/schema -run TestGolden -update")
		require.Equal(t, string(want), sql+"\n", name)
	}
}

// TestIdentifiersAreQuoted: remove every properly quoted identifier and every string literal
// from a statement and no part of any raw name may remain.
func TestIdentifiersAreQuoted(t *testing.T) {
	tb := fixtureTable()
	names := []string{tb.Name.Schema, tb.Name.Name, tb.PrimaryKeyName, keylessTable.Name.Name}
	for _, c := range append(tb.Columns, keylessTable.Columns...) {
		names = append(names, c.Name)
	}
	for _, ty := range fixtureTypes() {
		names = append(names, ty.Name.Name, ty.MultirangeName.Name)
		for _, a := range ty.Attributes {
			names = append(names, a.Name)
		}
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for file, sql := range statements() {
		stripped := sql
		// Defaults are catalog text, checked by TestDefaultsParenthesized; labels are literals.
		for _, s := range []string{`'new'::"Sales ""EU"".v2"."Status; DROP TYPE x; --"`, `'{new}'::"Sales ""EU"".v2"."Status; DROP TYPE x; --"[]`} {
			stripped = strings.ReplaceAll(stripped, s, "EXPR")
		}
		for _, n := range names {
			stripped = strings.ReplaceAll(stripped, pgx.Identifier{n}.Sanitize(), "ID")
		}
		for _, keyword := range []string{" DROP COLUMN ", " DROP NOT NULL"} { // the statements' own DROPs
			stripped = strings.ReplaceAll(stripped, keyword, " KEYWORD ")
		}
		for _, raw := range []string{"DROP", "Ördérs", "Sales", "EU", "Mönëy", "addr", "Street", "zip code", "tägs", "Float", "Événements", "x y", "note;", "line no"} {
			require.NotContains(t, stripped, raw, "%s: %q appears outside a quoted identifier", file, raw)
		}
	}
}

func TestTableShape(t *testing.T) {
	sql := CreateTable(fixtureTable())
	require.Contains(t, sql, `"Id" bigint NOT NULL,`, "identity becomes a plain column")
	require.Contains(t, sql, `"total" numeric,`, "generated becomes a plain column")
	require.Contains(t, sql, `"created" timestamp(3) with time zone NOT NULL,`, "a non-constant default is left out")
	require.Contains(t, sql, `"history" "Sales ""EU"".v2"."addr.ess"[][]`)
	require.Contains(t, sql, `"geo" "ext"."geometry"(Point,4326)`)
	require.Contains(t, sql, `CONSTRAINT "Ördérs_pkey ""x""" PRIMARY KEY ("Id", "line no")`)
	require.NotContains(t, CreateTable(keylessTable), "PRIMARY KEY")
}

// TestDefaultsParenthesized: a default stays one expression whatever its text.
func TestDefaultsParenthesized(t *testing.T) {
	tb := &Table{Name: Name{"s", "t"}, Columns: []Column{{Name: "a", Type: TypeRef{Builtin: "text"}, Default: "'a'::text COLLATE \"C\""}}}
	require.Contains(t, CreateTable(tb), `"a" text DEFAULT ('a'::text COLLATE "C")`)
}

func TestLiteral(t *testing.T) {
	require.Equal(t, `'plain'`, literal("plain"))
	require.Equal(t, `'it''s'`, literal("it's"))
	require.Equal(t, `E'back\\slash ''q'''`, literal(`back\slash 'q'`))
	require.Equal(t, `''`, literal(""))
}

func TestNameHelpers(t *testing.T) {
	require.True(t, Name{}.IsZero())
	require.Equal(t, `"a.b"."c""d"`, Name{"a.b", `c"d`}.String())
	require.Equal(t, `"s"."e"[]`, typeName(TypeRef{Type: Name{"s", "e"}, Dims: 1}))
	require.Equal(t, "integer[]", typeName(TypeRef{Builtin: "integer", Dims: 1}))
}
