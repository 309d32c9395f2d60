package migrations_test

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
	"github.com/pgfanout/pgfanout/migrations"
)

// files returns the migration files of one direction ("up" or "down") in the order they run:
// ascending versions up, descending down (zero-padded versions sort as text).
func files(t testing.TB, dir string) []string {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*."+dir+".sql")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	slices.Sort(names)
	if dir == "down" {
		slices.Reverse(names)
	}
	return names
}

// runFile runs a file the way psql -f and golang-migrate do: all of it, its own BEGIN …
// COMMIT included (Exec without arguments uses the simple protocol).
func runFile(t testing.TB, conn *pgx.Conn, name string) {
	t.Helper()
	sql, err := fs.ReadFile(migrations.FS, name)
	require.NoError(t, err)
	_, err = conn.Exec(ctxT(t), string(sql))
	require.NoError(t, err, name)
}

// catalog names, without OIDs, everything the migrations create or change: the schema and its
// privileges, its relations, its functions with their settings and privileges, and the
// capture triggers on other tables.
func catalog(t testing.TB, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(ctxT(t), `
		SELECT 'schema ' || nspname || ' ' || coalesce(nspacl::text, '-')
		FROM pg_namespace WHERE nspname = 'pgfanout'
		UNION ALL
		SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' ' || coalesce(c.relacl::text, '-')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pgfanout'
		UNION ALL
		SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') '
		       || coalesce(array_to_string(p.proconfig, ','), '-') || ' ' || coalesce(p.proacl::text, '-')
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'pgfanout'
		UNION ALL
		SELECT 'trigger ' || tgrelid::regclass::text || ' ' || tgname
		FROM pg_trigger WHERE tgname LIKE 'pgfanout%'
		ORDER BY 1`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// untracked is a catalog listing without what tracking tables created: their generated
// capture functions and their triggers.
func untracked(cat []string) []string {
	var out []string
	for _, e := range cat {
		if strings.HasPrefix(e, "trigger ") || generatedCapture.MatchString(e) {
			continue
		}
		out = append(out, e)
	}
	return out
}

var generatedCapture = regexp.MustCompile(`^function capture_[0-9]+_(insert|update|delete)\(`)

// Each down file undoes exactly its up file: after going up to the last version, tracking
// tables (one of them dropped since) and switching the notify mode, going down to any version
// leaves the catalog as it was at that version; the tables keep their rows, and going up
// again captures as before.
func TestDownFilesUndoTheirUpFiles(t *testing.T) {
	t.Parallel()
	url := testenv.NewDatabase(t)
	conn := testenv.Connect(t, url)
	s := &source{t: t, url: url, conn: conn}
	s.exec(`CREATE TABLE orders (id int PRIMARY KEY, note text); CREATE TABLE notes (body text);
		CREATE TABLE gone (id int PRIMARY KEY)`)
	ups, downs := files(t, "up"), files(t, "down")
	require.Len(t, downs, len(ups))

	before := make([][]string, len(ups)) // before[i]: the catalog before ups[i] ran
	for i, f := range ups {
		before[i] = catalog(t, conn)
		runFile(t, conn, f)
		require.NotEqual(t, before[i], catalog(t, conn), "%s creates nothing", f)
	}
	s.exec(`SELECT pgfanout.track('orders'), pgfanout.track('notes'), pgfanout.track('gone');
		DROP TABLE gone;
		SELECT pgfanout.set_notify('row');
		INSERT INTO orders VALUES (1, 'kept'); INSERT INTO notes VALUES ('kept')`)

	for i, f := range downs {
		k := len(ups) - 1 - i
		require.Equal(t, strings.TrimSuffix(ups[k], ".up.sql"), strings.TrimSuffix(f, ".down.sql"))
		runFile(t, conn, f)
		// Tracking's functions and triggers are the API's: only its down file removes them
		// (the final check below sees that it did), whatever migrations come after it.
		require.Equal(t, untracked(before[k]), untracked(catalog(t, conn)), "%s leaves the catalog as it was before %s", f, ups[k])
	}
	require.Empty(t, catalog(t, conn))
	var rows int
	s.scalar(&rows, `SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM notes)`)
	require.Equal(t, 2, rows)

	for _, f := range ups {
		runFile(t, conn, f)
	}
	s.exec(`SELECT pgfanout.track('orders'), pgfanout.track('notes');
		INSERT INTO orders VALUES (2, 'again'); INSERT INTO notes VALUES ('again')`)
	requireChanges(t, []want{
		{"I", `{"id":2}`, `{"id":2,"note":"again"}`},
		{"I", `null`, `{"body":"again"}`},
	}, s.changes())
}
