package schema

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// ordersSQL is a source table with every kind of type Describe follows; its names need quoting
// (quotes, dots, spaces, Unicode). The composite column comes first, so that the enum and the
// domain are met through it.
const ordersSQL = `
CREATE SCHEMA "Sales ""EU"".v2";
CREATE TYPE "Sales ""EU"".v2"."Status ü" AS ENUM ('new', 'it''s', 'back\slash', 'größe', '{x}');
CREATE DOMAIN "Sales ""EU"".v2".money AS numeric(12,2) NOT NULL DEFAULT 0 CHECK (VALUE >= 0);
CREATE DOMAIN "Sales ""EU"".v2".stamp AS timestamptz DEFAULT now();
CREATE TYPE "Sales ""EU"".v2"."addr.ess" AS (
  street text COLLATE "C", zip varchar(10), "tag s" "Sales ""EU"".v2"."Status ü"[], m "Sales ""EU"".v2".money);
CREATE TYPE public.floatrange AS RANGE (subtype = float8, multirange_type_name = floatmulti);
CREATE TABLE "Sales ""EU"".v2"."Ördérs.2024" (
  addr "Sales ""EU"".v2"."addr.ess",
  "Id" bigint GENERATED ALWAYS AS IDENTITY,
  "line no" int NOT NULL,
  status "Sales ""EU"".v2"."Status ü" NOT NULL DEFAULT 'it''s',
  amount "Sales ""EU"".v2".money,
  tags "Sales ""EU"".v2"."Status ü"[] DEFAULT '{new,"{x}"}',
  history "Sales ""EU"".v2"."addr.ess"[],
  span floatrange,
  spans floatmulti,
  stamped "Sales ""EU"".v2".stamp,
  created timestamptz NOT NULL DEFAULT now(),
  price numeric(12,2) DEFAULT 1.5::numeric(4,2),
  ts timestamp(3) with time zone,
  names varchar(20)[] DEFAULT '{a,b}',
  matrix int[][],
  dur interval day to second,
  flag "char" DEFAULT 'x',
  bits bit(3),
  total numeric GENERATED ALWAYS AS ("line no"::numeric * 2) STORED,
  "note;--" text COLLATE "C",
  PRIMARY KEY ("line no", "Id")
);`

var ordersName = Name{`Sales "EU".v2`, "Ördérs.2024"}

func TestDescribe(t *testing.T) {
	t.Parallel()
	d := newDBs(t)
	d.source(t, ordersSQL)
	d.source(t, `SET search_path = "$user", public`)
	// In a REPEATABLE READ snapshot, as a copy reads.
	tx, err := d.src.BeginTx(context.Background(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	require.NoError(t, err)
	defer tx.Rollback(context.Background())
	tb, err := Describe(testCtx(t), tx, ordersName.Schema, ordersName.Name)
	require.NoError(t, err)
	require.Equal(t, `"$user", public`, one[string](t, tx, `SELECT current_setting('search_path')`), "search_path restored")

	s := ordersName.Schema
	status := Name{s, "Status ü"}
	money := Name{s, "money"}
	addr := Name{s, "addr.ess"}
	require.Equal(t, ordersName, tb.Name)
	require.Equal(t, []string{"line no", "Id"}, tb.PrimaryKey, "key order, not column order")
	require.Equal(t, "Ördérs.2024_pkey", tb.PrimaryKeyName)
	require.Empty(t, tb.Extensions)

	var names []Name
	for _, ty := range tb.Types {
		names = append(names, ty.Name)
	}
	require.Equal(t, []Name{status, money, addr, {"public", "floatrange"}, {s, "stamp"}}, names, "each type after what it needs")
	require.Equal(t, Type{Name: status, Kind: Enum, Labels: []string{"new", "it's", `back\slash`, "größe", "{x}"}}, tb.Types[0])
	require.Equal(t, Type{Name: money, Kind: Domain, Base: TypeRef{Builtin: "numeric(12,2)"}, NotNull: true, Default: "0"}, tb.Types[1],
		"no CHECK")
	require.Equal(t, []Attribute{
		{Name: "street", Type: TypeRef{Builtin: "text"}, Collation: Name{"pg_catalog", "C"}},
		{Name: "zip", Type: TypeRef{Builtin: "character varying(10)"}},
		{Name: "tag s", Type: TypeRef{Type: status, Dims: 1}},
		{Name: "m", Type: TypeRef{Type: money}},
	}, tb.Types[2].Attributes)
	require.Equal(t, Type{Name: Name{"public", "floatrange"}, Kind: Range, Subtype: TypeRef{Builtin: "double precision"},
		MultirangeName: Name{"public", "floatmulti"}}, tb.Types[3])
	require.Equal(t, Type{Name: Name{s, "stamp"}, Kind: Domain, Base: TypeRef{Builtin: "timestamp with time zone"}, OmittedDefault: "now()"}, tb.Types[4])

	cols := map[string]Column{}
	var order []string
	for i, c := range tb.Columns {
		require.Equal(t, i+1, c.Attnum, "column %s's number", c.Name)
		c.Attnum = 0
		cols[c.Name] = c
		order = append(order, c.Name)
	}
	require.Equal(t, []string{"addr", "Id", "line no", "status", "amount", "tags", "history", "span", "spans", "stamped",
		"created", "price", "ts", "names", "matrix", "dur", "flag", "bits", "total", "note;--"}, order)
	require.Equal(t, Column{Name: "Id", Type: TypeRef{Builtin: "bigint"}, NotNull: true, Identity: "a"}, cols["Id"])
	require.Equal(t, Column{Name: "total", Type: TypeRef{Builtin: "numeric"}, Generated: true}, cols["total"], "the generation expression is no default")
	require.Equal(t, Column{Name: "status", Type: TypeRef{Type: status}, NotNull: true, Default: `'it''s'::"Sales ""EU"".v2"."Status ü"`}, cols["status"])
	require.Equal(t, `'{new,"{x}"}'::"Sales ""EU"".v2"."Status ü"[]`, cols["tags"].Default, "qualified whatever the search_path")
	require.Equal(t, TypeRef{Type: addr, Dims: 1}, cols["history"].Type)
	require.Equal(t, TypeRef{Type: Name{"public", "floatmulti"}}, cols["spans"].Type)
	require.Equal(t, Column{Name: "created", Type: TypeRef{Builtin: "timestamp with time zone"}, NotNull: true, OmittedDefault: "now()"}, cols["created"])
	require.Equal(t, "1.5::numeric(4,2)", cols["price"].Default)
	require.Equal(t, TypeRef{Builtin: "timestamp(3) with time zone"}, cols["ts"].Type)
	require.Equal(t, TypeRef{Builtin: "character varying(20)", Dims: 1}, cols["names"].Type)
	require.Equal(t, TypeRef{Builtin: "integer", Dims: 2}, cols["matrix"].Type)
	require.Equal(t, TypeRef{Builtin: "interval day to second"}, cols["dur"].Type)
	require.Equal(t, TypeRef{Builtin: `"char"`}, cols["flag"].Type)
	require.Equal(t, Name{"pg_catalog", "C"}, cols["note;--"].Collation)
}

// TestConstantDefaults: which defaults are constants, judged on the server's own trees, and
// that the constant ones give the replica the same defaults and the same default values.
func TestConstantDefaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ, expr string
		constant  bool // DEFAULT NULL is neither: PostgreSQL stores no default for it
	}{
		{"integer", "42", true},
		{"text", "'x'", true},
		{"integer[]", "'{1,2}'::int[]", true},
		{"boolean", "true", true},
		{"numeric", "1.5::numeric(4,2)", true},
		{"some_enum", "'a'::some_enum", true},
		{"integer", "-1", true},
		{"integer[]", "ARRAY[1,2]", true},
		{"integer", "1+1", true},
		{"text", "NULL", true},
		{"text", "lower('X')", true}, // an immutable pg_catalog function of constants
		{"varchar(3)[]", "'{a}'::varchar(10)[]", true},
		{"pair", "ROW(1, 'x')", true},
		{"posint", "5", true}, // through the domain's coercion
		{"date", "'2024-02-29'::date", true},
		{"timestamptz", "now()", false},
		{"float8", "random()", false},
		{"bigint", "nextval('seq')", false},
		{"timestamptz", "CURRENT_TIMESTAMP", false},
		{"uuid", "gen_random_uuid()", false},
		{"timestamptz", "clock_timestamp()", false},
		{"text", "current_user", false},
		{"text", "to_char(1, '9')", false},           // stable
		{"integer", "user_immutable()", false},       // not pg_catalog's
		{"some_enum", "'a'::text::some_enum", false}, // through an input function: may be stable
		{"text", `('q' COLLATE "C")`, false},         // conservative: not on the list
	}
	d := newDBs(t)
	d.source(t, `CREATE TYPE some_enum AS ENUM ('a', 'b');
CREATE TYPE pair AS (n int, s text);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE SEQUENCE seq;
CREATE FUNCTION user_immutable() RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT 1'`)
	var cols []string
	for i, c := range cases {
		cols = append(cols, fmt.Sprintf("c%d %s DEFAULT %s", i, c.typ, c.expr))
	}
	d.source(t, "CREATE TABLE defaults ("+strings.Join(cols, ", ")+")")
	tb := d.describe(t, "public", "defaults")
	var constants []string
	for i, c := range cases {
		col := tb.Columns[i]
		switch {
		case c.expr == "NULL":
			require.Equal(t, Column{Name: col.Name, Attnum: col.Attnum, Type: TypeRef{Builtin: "text"}}, col)
		case c.constant:
			require.NotEmpty(t, col.Default, "%s is a constant", c.expr)
			require.Empty(t, col.OmittedDefault, c.expr)
			constants = append(constants, col.Name)
		default:
			require.Empty(t, col.Default, "%s is not a constant", c.expr)
			require.NotEmpty(t, col.OmittedDefault, c.expr)
		}
	}

	res, err := Ensure(testCtx(t), d.rep, tb)
	require.NoError(t, err)
	require.True(t, res.Table)
	src, rep := shape(t, d.src, tb.Name), shape(t, d.rep, tb.Name)
	for i, c := range cases {
		if c.constant {
			require.Equal(t, src[i], rep[i], "the replica has the same default")
		} else {
			require.NotContains(t, rep[i], "DEFAULT", c.expr)
		}
	}
	// The constants give the same values on both.
	row := "SELECT row_to_json(r)::text FROM (SELECT " + strings.Join(constants, ", ") + " FROM defaults) r"
	d.source(t, "INSERT INTO defaults DEFAULT VALUES")
	d.replica(t, "INSERT INTO defaults DEFAULT VALUES")
	require.Equal(t, one[string](t, d.src, row), one[string](t, d.rep, row))
}

func TestDescribeErrors(t *testing.T) {
	t.Parallel()
	d := newDBs(t)
	d.source(t, `CREATE TABLE parent (id int);
CREATE TABLE child (p parent);
CREATE VIEW v AS SELECT 1 AS x`)
	ctx := testCtx(t)
	for _, name := range []string{"missing", "v"} {
		_, err := Describe(ctx, d.src, "public", name)
		var nf *NotFoundError
		require.True(t, errors.As(err, &nf), "%s: %v", name, err)
		require.Equal(t, fmt.Sprintf(`table "public".%q does not exist on the source`, name), err.Error())
	}
	_, err := Describe(ctx, d.src, "public", "child")
	var un *UnsupportedError
	require.True(t, errors.As(err, &un), "%v", err)
	require.Contains(t, err.Error(), `row type of table "public"."parent"`)
	require.Equal(t, `"$user", public`, one[string](t, d.src, `SELECT current_setting('search_path')`), "restored after errors too")
}
