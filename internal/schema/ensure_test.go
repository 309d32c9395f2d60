package schema

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

// TestEnsureRoundTrip: a table with enum, domain, composite, array and range columns in a
// schema the replica lacks comes out with the source's columns, types, NOT NULLs, primary key
// and constant defaults; a second Ensure does nothing. The replica session has
// standard_conforming_strings off, so the enum's backslash label takes the E” path.
func TestEnsureRoundTrip(t *testing.T) {
	t.Parallel()
	d := newDBs(t)
	d.source(t, ordersSQL)
	cfg, err := pgxpool.ParseConfig(d.repURL)
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["standard_conforming_strings"] = "off"
	rep, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(rep.Close)

	tb := d.describe(t, ordersName.Schema, ordersName.Name)
	res, err := Ensure(testCtx(t), rep, tb)
	require.NoError(t, err)
	s := ordersName.Schema
	require.Equal(t, Result{
		Schemas: []string{s},
		Types:   []Name{{s, "Status ü"}, {s, "money"}, {s, "addr.ess"}, {"public", "floatrange"}, {s, "stamp"}},
		Table:   true,
	}, res)

	require.Equal(t, withoutDefaults(t, d.src, ordersName), withoutDefaults(t, d.rep, ordersName), "columns, types, NOT NULL")
	src, got := shape(t, d.src, ordersName), shape(t, d.rep, ordersName)
	require.Equal(t, src[len(src)-1], got[len(got)-1], "primary key")
	require.Equal(t, `PRIMARY KEY "line no", "Id"`, got[len(got)-1])
	for _, i := range []int{3, 5, 11, 13, 16} { // status, tags, price, names, flag: constants
		require.Equal(t, src[i], got[i])
		require.Contains(t, got[i], " DEFAULT ")
	}
	require.Equal(t, "created timestamp with time zone NOT NULL", got[10], "now() stays on the source")
	labels := `SELECT string_agg(enumlabel, '|' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = '"Sales ""EU"".v2"."Status ü"'::regtype`
	require.Equal(t, `new|it's|back\slash|größe|{x}`, one[string](t, d.rep, labels))
	require.Equal(t, one[string](t, d.src, `SELECT rngmultitypid::regtype::text FROM pg_range WHERE rngtypid = 'floatrange'::regtype`),
		one[string](t, d.rep, `SELECT rngmultitypid::regtype::text FROM pg_range WHERE rngtypid = 'floatrange'::regtype`))

	// A source row's image goes in as the apply path writes it: identity and generated values
	// are plain data; the domain's CHECK is not there (the source enforced it).
	d.source(t, `INSERT INTO "Sales ""EU"".v2"."Ördérs.2024" (addr, "line no", amount, history, span, spans, matrix, dur, bits)
VALUES (ROW('Main St', '12345', '{new,it''s}', 3), 7, 9.99, ARRAY[ROW('a', 'b', '{}', 0)::"Sales ""EU"".v2"."addr.ess"],
        '[1.5,2)', '{[1,2),[3,4)}', '{{1,2},{3,4}}', '1 day 02:03:04', B'101')`)
	img := one[string](t, d.src, `SELECT row_to_json(t)::text FROM "Sales ""EU"".v2"."Ördérs.2024" t`)
	_, err = d.rep.Exec(context.Background(), `INSERT INTO "Sales ""EU"".v2"."Ördérs.2024"
SELECT * FROM json_populate_record(NULL::"Sales ""EU"".v2"."Ördérs.2024", $1::json)`, img)
	require.NoError(t, err)
	require.Equal(t, img, one[string](t, d.rep, `SELECT row_to_json(t)::text FROM "Sales ""EU"".v2"."Ördérs.2024" t`))
	d.replica(t, `INSERT INTO "Sales ""EU"".v2"."Ördérs.2024" ("Id", "line no", total, amount, created) VALUES (99, 1, 1234, -5, now())`)
	require.Zero(t, one[int](t, d.rep, `SELECT count(*)::int FROM pg_attribute WHERE attrelid = '"Sales ""EU"".v2"."Ördérs.2024"'::regclass
AND (attidentity <> '' OR attgenerated <> '')`), "identity and generated columns are plain")

	again, err := Ensure(testCtx(t), rep, tb)
	require.NoError(t, err)
	require.Equal(t, Result{}, again, "an existing table: nothing to do")
	require.False(t, again.Created())
}

func TestEnsureKeyless(t *testing.T) {
	t.Parallel()
	d := newDBs(t)
	d.source(t, `CREATE TABLE "Événements" (kind text NOT NULL, "x y" jsonb, n int DEFAULT 0)`)
	res := d.ensure(t, "public", "Événements")
	require.Equal(t, Result{Table: true}, res)
	n := Name{"public", "Événements"}
	require.Equal(t, shape(t, d.src, n), shape(t, d.rep, n))
	require.Equal(t, []string{"kind text NOT NULL", `"x y" jsonb`, "n integer DEFAULT 0"}, shape(t, d.rep, n))
}

// TestEnsureConcurrent: two replicators creating the same table at once both succeed, one of
// them creating it. Both are let go only once both wait for the lock.
func TestEnsureConcurrent(t *testing.T) {
	t.Parallel()
	d := newDBs(t)
	d.source(t, ordersSQL)
	tb := d.describe(t, ordersName.Schema, ordersName.Name)
	holder := testenv.Connect(t, d.repURL)
	_, err := holder.Exec(context.Background(), `SELECT pg_advisory_lock($1)`, LockKey)
	require.NoError(t, err)

	type outcome struct {
		res Result
		err error
	}
	out := make(chan outcome, 2)
	ctx := testCtx(t)
	for range 2 {
		pool := newPool(t, d.repURL)
		go func() {
			res, err := Ensure(ctx, pool, tb)
			out <- outcome{res, err}
		}()
	}
	testenv.Eventually(t, "both Ensure calls waiting for the lock", 30*time.Second, func() bool {
		return one[int](t, holder, `SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`) == 2
	})
	_, err = holder.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, LockKey)
	require.NoError(t, err)
	a, b := <-out, <-out
	require.NoError(t, a.err)
	require.NoError(t, b.err)
	require.NotEqual(t, a.res.Table, b.res.Table, "exactly one created the table")
	require.False(t, a.res.Created() && b.res.Created(), "the other created nothing")
	require.Equal(t, withoutDefaults(t, d.src, ordersName), withoutDefaults(t, d.rep, ordersName))
}

// TestEnsurePrivileges: without CREATE on the database a missing schema is refused with the
// GRANT to run; without CREATE on an existing schema, a type or table there is.
func TestEnsurePrivileges(t *testing.T) {
	t.Parallel()
	d := newDBs(t)
	d.source(t, ordersSQL)
	tb := d.describe(t, ordersName.Schema, ordersName.Name)
	role, roleURL := testenv.NewRole(t, d.repURL, "")
	pool := newPool(t, roleURL)
	db := one[string](t, d.rep, `SELECT current_database()`)
	q := pgx.Identifier{role}.Sanitize()

	_, err := Ensure(testCtx(t), pool, tb)
	var pe *PrivilegeError
	require.True(t, errors.As(err, &pe), "%v", err)
	require.Equal(t, fmt.Sprintf(`GRANT CREATE ON DATABASE %q TO %s`, db, q), pe.Grant)
	require.Equal(t, fmt.Sprintf(`table "Sales ""EU"".v2"."Ördérs.2024": the replicator's role may not create schema "Sales ""EU"".v2" on the replica: GRANT CREATE ON DATABASE %q TO %s`, db, q), err.Error())

	d.replica(t, pe.Grant)
	_, err = Ensure(testCtx(t), pool, tb)
	require.True(t, errors.As(err, &pe), "%v", err)
	require.Equal(t, `GRANT CREATE ON SCHEMA "public" TO `+q, pe.Grant)
	require.Equal(t, `type "public"."floatrange"`, pe.What, "the range type goes to public")
	require.False(t, one[bool](t, d.rep, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = 'Sales "EU".v2')`), "rolled back")

	d.replica(t, pe.Grant)
	res, err := Ensure(testCtx(t), pool, tb)
	require.NoError(t, err)
	require.True(t, res.Table)
	require.Equal(t, role, one[string](t, d.rep, `SELECT relowner::regrole::text FROM pg_class WHERE oid = '"Sales ""EU"".v2"."Ördérs.2024"'::regclass`))
}

// TestEnsureExtension: an extension's types are not created: a replica without the extension
// gets an error naming it; with it, installed in another schema than on the source, the
// columns use the replica's.
func TestEnsureExtension(t *testing.T) {
	t.Parallel()
	d := newDBs(t)
	if !hasExtension(t, d, "citext") {
		t.Skip("extension citext is not available on this server")
	}
	d.source(t, `CREATE SCHEMA ext;
CREATE EXTENSION citext SCHEMA ext;
CREATE DOMAIN email AS ext.citext;
CREATE TABLE people (id int PRIMARY KEY, name ext.citext NOT NULL, aliases ext.citext[], mail email)`)
	tb := d.describe(t, "public", "people")
	require.Equal(t, []Extension{{Name: "citext", Schema: "ext"}}, tb.Extensions)
	require.Equal(t, TypeRef{Type: Name{"ext", "citext"}, Extension: "citext"}, tb.Columns[1].Type)
	require.Equal(t, []Name{{"public", "email"}}, []Name{tb.Types[0].Name}, "the extension's type is not among the types to create")

	_, err := Ensure(testCtx(t), d.rep, tb)
	var xe *ExtensionError
	require.True(t, errors.As(err, &xe), "%v", err)
	require.Equal(t, `table "public"."people" needs extension "citext" on the replica: CREATE EXTENSION "citext"`, err.Error())
	require.False(t, one[bool](t, d.rep, `SELECT to_regtype('public.email') IS NOT NULL`), "nothing created")

	d.replica(t, `CREATE EXTENSION citext`) // in public
	res, err := Ensure(testCtx(t), d.rep, tb)
	require.NoError(t, err)
	require.Equal(t, Result{Types: []Name{{"public", "email"}}, Table: true}, res)
	require.Equal(t, []string{"id integer NOT NULL", "name citext NOT NULL", "aliases citext[]", "mail email", "PRIMARY KEY id"},
		shape(t, d.rep, Name{"public", "people"}))
	require.Equal(t, "citext", one[string](t, d.rep, `SELECT typbasetype::regtype::text FROM pg_type WHERE oid = 'email'::regtype`))
}

// TestEnsureExistingTypes: a type the replica has is left as is, except that an enum gets the
// labels it lacks, in the source's order, committed before a default that names one is created.
func TestEnsureExistingTypes(t *testing.T) {
	t.Parallel()
	d := newDBs(t)
	d.source(t, `CREATE TYPE mood AS ENUM ('a', 'b', 'c');
CREATE DOMAIN happy AS mood DEFAULT 'a';
CREATE TYPE pair AS (x int, y int);
CREATE TABLE feelings (id int PRIMARY KEY, m mood NOT NULL DEFAULT 'c', h happy, p pair)`)
	d.replica(t, `CREATE TYPE mood AS ENUM ('b', 'z'); CREATE TYPE pair AS (x text)`)
	res := d.ensure(t, "public", "feelings")
	require.Equal(t, Result{
		Types:  []Name{{"public", "happy"}},
		Labels: []Label{{Type: Name{"public", "mood"}, Label: "a"}, {Type: Name{"public", "mood"}, Label: "c"}},
		Table:  true,
	}, res)
	require.Equal(t, "a|b|c|z", one[string](t, d.rep, `SELECT string_agg(enumlabel, '|' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'mood'::regtype`))
	require.Equal(t, "x text", one[string](t, d.rep, `SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ') FROM pg_attribute WHERE attrelid = 'pair'::regclass`))
	d.replica(t, `INSERT INTO feelings (id) VALUES (1)`)
	require.Equal(t, "c a", one[string](t, d.rep, `SELECT m || ' ' || h FROM feelings`))
}

// TestLiteralOnServer: a literal means its string under either standard_conforming_strings.
func TestLiteralOnServer(t *testing.T) {
	t.Parallel()
	url := testenv.NewDatabase(t)
	for _, scs := range []string{"on", "off"} {
		cfg, err := pgx.ParseConfig(url)
		require.NoError(t, err)
		cfg.RuntimeParams["standard_conforming_strings"] = scs
		conn := testenv.ConnectConfig(t, cfg)
		for _, s := range []string{"plain", "it's", `back\slash`, `\'; DROP TABLE x; --`, `\\`, `'`, `ü{}"`, ""} {
			var got string
			require.NoError(t, conn.QueryRow(context.Background(), "SELECT "+literal(s)).Scan(&got))
			require.Equal(t, s, got, "standard_conforming_strings %s", scs)
		}
	}
}
