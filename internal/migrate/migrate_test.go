package migrate_test

import (
	"bytes"
	"context"
	"database/sql"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	gomigrate "github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/migrate"
	"github.com/pgfanout/pgfanout/internal/testenv"
	"github.com/pgfanout/pgfanout/migrations"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// state is everything a migration run could touch: the capture objects (by OID, so a drop
// and re-create shows) and the version table row (its xmin shows a rewrite).
func state(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var s string
	err := conn.QueryRow(ctxT(t), `
		SELECT concat_ws(' | ',
		  (SELECT string_agg(c.oid || ':' || c.relname, ',' ORDER BY c.oid) FROM pg_class c
		   WHERE c.relnamespace = 'pgfanout'::regnamespace),
		  (SELECT string_agg(p.oid || ':' || p.proname, ',' ORDER BY p.oid) FROM pg_proc p
		   WHERE p.pronamespace = 'pgfanout'::regnamespace),
		  (SELECT string_agg(version || ':' || dirty || ':' || xmin, ',') FROM `+migrate.VersionTable+`))`).Scan(&s)
	require.NoError(t, err)
	return s
}

// files returns the migration files of one direction ("up" or "down") in the order they run:
// ascending versions up, descending down (zero-padded versions sort as text).
func files(t *testing.T, dir string) []string {
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

// lastVersion is the version of the newest migration file.
func lastVersion(t *testing.T) int {
	ups := files(t, "up")
	return mustAtoi(t, ups[len(ups)-1][:6])
}

func TestUpTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	url := testenv.NewDatabase(t)
	// golang-migrate logs from two goroutines (one reads the next file while another runs the
	// previous one): a bytes.Buffer needs SyncWriter.
	var logs bytes.Buffer
	log := zerolog.New(zerolog.SyncWriter(&logs))
	require.NoError(t, migrate.Up(ctxT(t), url, log))
	require.Contains(t, logs.String(), `"to_version":`+strconv.Itoa(lastVersion(t)))

	conn := testenv.Connect(t, url)
	before := state(t, conn)
	logs.Reset()
	require.NoError(t, migrate.Up(ctxT(t), url, log))
	require.Equal(t, before, state(t, conn))
	require.Contains(t, logs.String(), "up to date")

	var version int
	var dirty bool
	require.NoError(t, conn.QueryRow(ctxT(t), `SELECT version, dirty FROM `+migrate.VersionTable).Scan(&version, &dirty))
	require.Equal(t, lastVersion(t), version)
	require.False(t, dirty)
}

func TestConcurrentUpBothSucceed(t *testing.T) {
	t.Parallel()
	url := testenv.NewDatabase(t)
	const runs = 3
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = migrate.Up(ctxT(t), url, zerolog.Nop())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	var n int
	conn := testenv.Connect(t, url)
	require.NoError(t, conn.QueryRow(ctxT(t), `SELECT count(*) FROM pgfanout.settings`).Scan(&n))
	require.Equal(t, 1, n)
}

func TestUpAcceptsKeywordConnectionString(t *testing.T) {
	t.Parallel()
	url := testenv.NewDatabase(t)
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	dsn := "host=" + cfg.Host + " port=" + strconv.Itoa(int(cfg.Port)) + " user=" + cfg.User +
		" dbname=" + cfg.Database + " sslmode=disable"
	require.NoError(t, migrate.Up(ctxT(t), dsn, zerolog.Nop()))
}

func TestUpLeavesTheApplicationsGolangMigrateTableAlone(t *testing.T) {
	t.Parallel()
	url := testenv.NewDatabase(t)
	conn := testenv.Connect(t, url)
	// An application already managed by golang-migrate, at a version our files do not have.
	_, err := conn.Exec(ctxT(t), `CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL);
		INSERT INTO schema_migrations VALUES (20240101120000, false)`)
	require.NoError(t, err)
	require.NoError(t, migrate.Up(ctxT(t), url, zerolog.Nop()))
	var v int64
	require.NoError(t, conn.QueryRow(ctxT(t), `SELECT version FROM schema_migrations`).Scan(&v))
	require.Equal(t, int64(20240101120000), v)
}

// psql -f runs a file as it is; Exec without arguments does the same (simple protocol).
func execFile(t *testing.T, conn *pgx.Conn, name string) {
	t.Helper()
	sql, err := fs.ReadFile(migrations.FS, name)
	require.NoError(t, err)
	_, err = conn.Exec(ctxT(t), string(sql))
	require.NoError(t, err, name)
}

// requireRemoved checks that capture is gone from the database (schema, and the triggers on
// orders) while orders keeps its rows.
func requireRemoved(t *testing.T, conn *pgx.Conn, rows int) {
	t.Helper()
	var schemas, triggers, n int
	require.NoError(t, conn.QueryRow(ctxT(t), `SELECT
		(SELECT count(*) FROM pg_namespace WHERE nspname = 'pgfanout'),
		(SELECT count(*) FROM pg_trigger WHERE tgrelid = 'orders'::regclass),
		(SELECT count(*) FROM orders)`).Scan(&schemas, &triggers, &n))
	require.Equal(t, []int{0, 0, rows}, []int{schemas, triggers, n})
}

const trackOrders = `CREATE TABLE orders (id int PRIMARY KEY, note text);
	CREATE TABLE gone (id int PRIMARY KEY);
	SELECT pgfanout.track('orders'), pgfanout.track('gone');
	DROP TABLE gone;
	INSERT INTO orders VALUES (1, 'kept')`

// The files applied one by one as psql does, then the down files in reverse order, then the
// up files again.
func TestDownFilesRemoveCaptureAndUpFilesReapply(t *testing.T) {
	t.Parallel()
	url := testenv.NewDatabase(t)
	conn := testenv.Connect(t, url)
	for _, f := range files(t, "up") {
		execFile(t, conn, f)
	}
	_, err := conn.Exec(ctxT(t), trackOrders)
	require.NoError(t, err)

	for _, f := range files(t, "down") {
		execFile(t, conn, f)
	}
	requireRemoved(t, conn, 1)

	for _, f := range files(t, "up") {
		execFile(t, conn, f)
	}
	_, err = conn.Exec(ctxT(t), `SELECT pgfanout.track('orders')`)
	require.NoError(t, err)
}

// An application that copied the files into its own golang-migrate directory: `migrate down`
// removes capture, and `publisher migrate` (or `migrate up`) installs it again.
func TestGolangMigrateDownRemovesCaptureAndUpReapplies(t *testing.T) {
	t.Parallel()
	url := testenv.NewDatabase(t)
	require.NoError(t, migrate.Up(ctxT(t), url, zerolog.Nop()))
	conn := testenv.Connect(t, url)
	_, err := conn.Exec(ctxT(t), trackOrders)
	require.NoError(t, err)

	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	src, err := iofs.New(migrations.FS, ".")
	require.NoError(t, err)
	drv, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{MigrationsTable: migrate.VersionTable})
	require.NoError(t, err)
	m, err := gomigrate.NewWithInstance("iofs", src, "pgx5", drv)
	require.NoError(t, err)
	require.NoError(t, m.Down())
	requireRemoved(t, conn, 1)
	_, _, err = m.Version()
	require.ErrorIs(t, err, gomigrate.ErrNilVersion)

	require.NoError(t, migrate.Up(ctxT(t), url, zerolog.Nop()))
	_, err = conn.Exec(ctxT(t), `SELECT pgfanout.track('orders')`)
	require.NoError(t, err)
}

var fileName = regexp.MustCompile(`^(\d{6})_([a-z0-9_]+)\.(up|down)\.sql$`)

func TestMigrationFilesAreZeroPaddedPairs(t *testing.T) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	pairs := map[string][]string{}
	for _, n := range names {
		m := fileName.FindStringSubmatch(n)
		require.NotNil(t, m, "%s is not NNNNNN_name.up.sql or NNNNNN_name.down.sql", n)
		pairs[m[1]+"_"+m[2]] = append(pairs[m[1]+"_"+m[2]], m[3])
	}
	var keys []string
	for k, dirs := range pairs {
		sort.Strings(dirs)
		require.Equal(t, []string{"down", "up"}, dirs, "%s needs exactly one up and one down file", k)
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		require.Equal(t, i+1, mustAtoi(t, k[:6]), "versions are 1, 2, 3… without gaps")
	}
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

// Capture applied by hand (psql) and then by `publisher migrate`: the second fails without
// changing the schema, and the error says how to recover.
func TestUpAfterManualApplyFailsCleanly(t *testing.T) {
	t.Parallel()
	url := testenv.NewDatabase(t)
	conn := testenv.Connect(t, url)
	for _, f := range files(t, "up") {
		execFile(t, conn, f)
	}
	err := migrate.Up(ctxT(t), url, zerolog.Nop())
	require.ErrorContains(t, err, `schema "pgfanout" already exists`)
	err = migrate.Up(ctxT(t), url, zerolog.Nop())
	require.ErrorContains(t, err, "DELETE FROM "+migrate.VersionTable)
	_, err = conn.Exec(ctxT(t), "DELETE FROM "+migrate.VersionTable)
	require.NoError(t, err)
	// Recording the hand-applied version makes later runs no-ops.
	_, err = conn.Exec(ctxT(t), "INSERT INTO "+migrate.VersionTable+" VALUES ($1, false)", lastVersion(t))
	require.NoError(t, err)
	require.NoError(t, migrate.Up(ctxT(t), url, zerolog.Nop()))
}
