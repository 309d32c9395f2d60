package migrations_test

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
	queries "github.com/pgfanout/pgfanout/sql"
)

// requireDenied runs each statement on conn and expects PostgreSQL's insufficient_privilege.
func requireDenied(t *testing.T, conn *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, sql := range stmts {
		_, err := conn.Exec(ctxT(t), sql)
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr), "%s: want permission denied, got %v", sql, err)
		require.Equal(t, "42501", pgErr.Code, "%s: %v", sql, err)
	}
}

func requireAllowed(t *testing.T, conn *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, sql := range stmts {
		_, err := conn.Exec(ctxT(t), sql)
		require.NoError(t, err, sql)
	}
}

// An application role owning its table writes through capture (SECURITY DEFINER functions)
// without any access to the change log, and cannot steer capture with its search_path.
func TestAppRoleWritesButCannotTouchTheLog(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	role, roleURL := testenv.NewRole(t, s.url, "")
	q := pgx.Identifier{role}.Sanitize()
	s.exec(`GRANT CREATE ON SCHEMA public TO ` + q + `; GRANT CREATE ON DATABASE ` +
		pgx.Identifier{s.conn.Config().Database}.Sanitize() + ` TO ` + q)
	app := testenv.Connect(t, roleURL)
	requireAllowed(t, app, `CREATE TABLE orders (id int PRIMARY KEY, v text)`)
	s.exec(`SELECT pgfanout.track('orders')`)

	requireAllowed(t, app,
		`CREATE SCHEMA evil`,
		// Would replace the row image if capture ran with the writer's search_path.
		`CREATE FUNCTION evil.row_to_json(record) RETURNS json LANGUAGE plpgsql AS $$ BEGIN RETURN '{"hijacked":true}'; END $$`,
		`SET search_path = evil, pg_catalog, public`)
	var hijacked string
	require.NoError(t, app.QueryRow(ctxT(t), `SELECT row_to_json(x.*)::text FROM (SELECT 1 AS a) x`).Scan(&hijacked))
	require.Equal(t, `{"hijacked":true}`, hijacked, "the session's own SQL is hijacked…")
	requireAllowed(t, app,
		`INSERT INTO orders VALUES (1, 'a'), (2, 'b')`,
		`UPDATE orders SET v = 'c' WHERE id = 1`,
		`UPDATE orders SET id = 3 WHERE id = 2`,
		`DELETE FROM orders WHERE id = 3`,
		`TRUNCATE orders`)
	requireChanges(t, []want{ // …capture is not
		{"I", `{"id":1}`, `{"id":1,"v":"a"}`},
		{"I", `{"id":2}`, `{"id":2,"v":"b"}`},
		{"U", `{"id":1}`, `{"id":1,"v":"c"}`},
		{"D", `{"id":2}`, `null`},
		{"U", `{"id":3}`, `{"id":3,"v":"b"}`},
		{"D", `{"id":3}`, `null`},
		{"T", `null`, `null`},
	}, s.changes())

	requireDenied(t, app,
		`SELECT * FROM pgfanout.changes`,
		`INSERT INTO pgfanout.changes VALUES (1, 1, 1, '1', 's', 't', 'I', now(), '{}', 2, '[]')`,
		`DELETE FROM pgfanout.changes`,
		`SELECT * FROM pgfanout.backlog`,
		`UPDATE pgfanout.settings SET notify = 'off'`,
		`SELECT pgfanout.track('orders')`,
		`SELECT pgfanout.untrack('orders')`,
		`SELECT pgfanout.set_notify('off')`,
		`SELECT nextval('pgfanout.version_seq')`,
		`SELECT * FROM pgfanout.idle_lock_key()`,
		`SELECT pgfanout.advance_low_water()`,
		`UPDATE pgfanout.low_water SET low_water = 1 << 62`,
		`SELECT * FROM pgfanout.track_new_tables()`,
		`SELECT pgfanout.track_schema('public')`,
		`SELECT pgfanout.untrack_schema('public')`,
		`INSERT INTO pgfanout.tracked_schemas VALUES (1, 'x')`,
		// A role's own trigger cannot borrow the capture's SECURITY DEFINER functions.
		`CREATE TRIGGER forge AFTER TRUNCATE ON orders FOR EACH STATEMENT EXECUTE FUNCTION pgfanout.capture_truncate()`)
}

// publisherGrants reads the GRANT block docs/capture.md documents for the publisher role.
func publisherGrants(t *testing.T, role string) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/capture.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)<!-- publisher-grants -->\\s*```sql\n(.*?)```").FindSubmatch(doc)
	require.NotNil(t, m, "docs/capture.md lacks the publisher-grants SQL block")
	return strings.ReplaceAll(string(m[1]), "pgfanout_publisher", pgx.Identifier{role}.Sanitize())
}

// The documented GRANTs give the publisher exactly its work: fetch and delete entries, take
// its idle lock, read the backlog, listen; nothing else.
func TestPublisherRoleHasExactlyTheDocumentedRights(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	role, roleURL := testenv.NewRole(t, s.url, "")
	s.exec(publisherGrants(t, role))
	s.exec(keyed)
	s.exec(`INSERT INTO t VALUES (1, 'a'), (2, 'b'); INSERT INTO t VALUES (3, 'c')`)
	pub := testenv.Connect(t, roleURL)

	// The publisher's own statements (sql/), with the arguments it passes.
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`LISTEN pgfanout`, nil},
		{queries.LeaseAcquire, []any{"holder", "host", 1, 15.0}},
		{queries.LeaseRead, nil},
		{queries.LeaseRenew, []any{int64(1), 15.0}},
		{queries.LeaseRelease, []any{int64(1)}},
		{queries.FetchChanges, []any{0, 10000, 1 << 25}},
		{queries.SourceStats, nil},
		{`SELECT changes, entries, oldest_captured_at FROM pgfanout.backlog`, nil},
		{queries.IdleRaise, []any{int64(1)}},
		{queries.IdleTake, nil},
		{queries.IdleRelease, nil},
		{queries.DeleteChanges, []any{[]int64{1, 2}}},
		{queries.AdvanceLowWater, nil},
		{queries.TrackNewTables, nil},
	} {
		_, err := pub.Exec(ctxT(t), st.sql, st.args...)
		require.NoError(t, err, st.sql)
	}
	var left int
	s.scalar(&left, `SELECT count(*) FROM pgfanout.changes`)
	require.Equal(t, 1, left)

	requireDenied(t, pub,
		`INSERT INTO pgfanout.changes VALUES (100, 100, 1, '1', 's', 't', 'I', now(), '{}', 2, '[]')`,
		`UPDATE pgfanout.changes SET n = 0`,
		`TRUNCATE pgfanout.changes`,
		`UPDATE pgfanout.settings SET notify = 'row'`,
		`DELETE FROM pgfanout.settings`,
		`SELECT * FROM pgfanout.tracked`,
		`SELECT * FROM pgfanout.settings`,
		`SELECT pgfanout.track('t')`,
		`SELECT pgfanout.untrack('t')`,
		`SELECT pgfanout.set_notify('row')`,
		`SELECT nextval('pgfanout.version_seq')`,
		`UPDATE pgfanout.low_water SET low_water = 1 << 62`,
		`SELECT pgfanout.track_schema('public')`,
		`SELECT pgfanout.untrack_schema('public')`,
		`SELECT * FROM pgfanout.untracked_tables()`,
		`SELECT * FROM pgfanout.schema_tables`,
		`INSERT INTO pgfanout.tracked_schemas VALUES (1, 'x')`,
		`SELECT * FROM t`)
}

// Every function runs with a fixed search_path except the two wrappers that must resolve the
// caller's table name; the capture functions also pin the output settings exactness needs.
func TestFunctionsPinTheirSettings(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(keyed)
	rows, err := s.conn.Query(ctxT(t), `SELECT proname, prosecdef, coalesce(array_to_string(proconfig, '|'), ''),
		coalesce(array_to_string(proacl, ','), 'default')
		FROM pg_proc WHERE pronamespace = 'pgfanout'::regnamespace ORDER BY proname`)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		var name, config, acl string
		var definer bool
		require.NoError(t, rows.Scan(&name, &definer, &config, &acl))
		n++
		require.NotContains(t, ","+acl, ",=X", "%s is executable by PUBLIC", name)
		require.NotEqual(t, "default", acl, "%s has default privileges (PUBLIC EXECUTE)", name)
		if name == "track" || name == "untrack" {
			require.False(t, definer)
			continue
		}
		require.Contains(t, config, "search_path=pg_catalog, pg_temp", name)
		if regexp.MustCompile(`^capture_\d+_`).MatchString(name) {
			require.True(t, definer, name)
			for _, want := range []string{"extra_float_digits=3", "DateStyle=ISO, YMD", "IntervalStyle=postgres",
				"bytea_output=hex", "lc_monetary=C"} {
				require.Contains(t, config, want, name)
			}
		}
	}
	require.NoError(t, rows.Err())
	require.Greater(t, n, 15)
}
