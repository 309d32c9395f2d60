package migrations_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
	queries "github.com/pgfanout/pgfanout/sql"
)

// ownedSource is a database whose capture belongs to a role that is not a superuser (it ran the
// migrations), with a schema l1 that another role, the creator, owns and creates tables in,
// and a publisher role holding exactly the documented grants.
type ownedSource struct {
	*source                         // the superuser's connection, for setup and reading the log
	owner, creator                  string
	ownerConn, creatorConn, pubConn *pgx.Conn
}

func newOwnedSource(t *testing.T) *ownedSource {
	t.Helper()
	url := testenv.NewDatabase(t)
	o := &ownedSource{source: &source{t: t, url: url, conn: testenv.Connect(t, url)}}
	var ownerURL, creatorURL, pubURL, pub string
	o.owner, ownerURL = testenv.NewRole(t, url, "")
	o.creator, creatorURL = testenv.NewRole(t, url, "")
	pub, pubURL = testenv.NewRole(t, url, "")
	o.exec(`GRANT CREATE ON DATABASE ` + pgx.Identifier{o.conn.Config().Database}.Sanitize() + ` TO ` +
		quoted(o.owner) + `, ` + quoted(o.creator))
	// Before the roles' DROP OWNED (cleanups run last first): the creator's tables carry
	// triggers calling the owner's functions, so neither role's objects can go alone.
	t.Cleanup(func() {
		_, err := o.conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS l1 CASCADE; DROP SCHEMA IF EXISTS pgfanout CASCADE`)
		require.NoError(t, err)
	})
	o.ownerConn = testenv.Connect(t, ownerURL)
	for _, f := range files(t, "up") {
		runFile(t, o.ownerConn, f)
	}
	o.creatorConn = testenv.Connect(t, creatorURL)
	requireAllowed(t, o.creatorConn, `CREATE SCHEMA l1`, `GRANT USAGE ON SCHEMA l1 TO `+quoted(o.owner))
	o.exec(publisherGrants(t, pub))
	o.pubConn = testenv.Connect(t, pubURL)
	requireAllowed(t, o.ownerConn, `SELECT pgfanout.track_schema('l1')`)
	return o
}

func quoted(role string) string { return pgx.Identifier{role}.Sanitize() }

// publisherPass runs the publisher's statement as the publisher's role.
func (o *ownedSource) publisherPass() []string {
	o.t.Helper()
	rows, err := o.pubConn.Query(ctxT(o.t), queries.TrackNewTables)
	require.NoError(o.t, err)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
		var table string
		var reason *string
		var tracked bool
		if err := row.Scan(&table, &tracked, &reason); err != nil || tracked {
			return table + " tracked", err
		}
		return table + " skipped: " + *reason, nil
	})
	require.NoError(o.t, err)
	return out
}

// The publisher's role tracks tables that other roles create in a tracked schema, as the
// capture owner, when the owner may create triggers on them; a table it may not is skipped
// (never an error), reported with what to grant, and tracked by the first pass after the grant.
func TestTrackNewTablesAsTheCaptureOwner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(o *ownedSource)
		creates func(o *ownedSource) *pgx.Conn // who creates and writes the table
		tracked bool
	}{
		{"the capture owner creates it", func(o *ownedSource) {
			requireAllowed(t, o.creatorConn, `GRANT CREATE ON SCHEMA l1 TO `+quoted(o.owner))
		}, func(o *ownedSource) *pgx.Conn { return o.ownerConn }, true},
		{"default privileges grant TRIGGER", func(o *ownedSource) {
			requireAllowed(t, o.creatorConn, `ALTER DEFAULT PRIVILEGES FOR ROLE `+quoted(o.creator)+
				` IN SCHEMA l1 GRANT TRIGGER ON TABLES TO `+quoted(o.owner))
		}, func(o *ownedSource) *pgx.Conn { return o.creatorConn }, true},
		{"the capture owner is a member of the creator", func(o *ownedSource) {
			o.exec(`GRANT ` + quoted(o.creator) + ` TO ` + quoted(o.owner))
		}, func(o *ownedSource) *pgx.Conn { return o.creatorConn }, true},
		{"nothing granted", func(*ownedSource) {}, func(o *ownedSource) *pgx.Conn { return o.creatorConn }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := newOwnedSource(t)
			tt.setup(o)
			writer := tt.creates(o)
			requireAllowed(t, writer, `CREATE TABLE l1.t (id int PRIMARY KEY, v text)`, `INSERT INTO l1.t VALUES (1, 'untracked')`)
			if !tt.tracked {
				reason := `the capture owner ` + o.owner + ` may not create triggers on it (owned by ` + o.creator +
					`): GRANT TRIGGER ON l1.t TO ` + o.owner + `, and for the tables ` + o.creator +
					` creates later ALTER DEFAULT PRIVILEGES FOR ROLE ` + o.creator + ` IN SCHEMA l1 GRANT TRIGGER ON TABLES TO ` + o.owner
				require.Equal(t, []string{"l1.t skipped: " + reason}, o.publisherPass())
				require.Equal(t, []string{"l1.t skipped: " + reason}, o.publisherPass(), "skipped tables are tried on every pass")
				require.Equal(t, []string{"l1.t: " + reason}, o.texts(`SELECT table_name::text || ': ' || reason FROM pgfanout.untracked_tables()`))
				requireAllowed(t, writer, `INSERT INTO l1.t VALUES (2, 'untracked')`)
				require.Empty(t, o.changes())
				requireAllowed(t, o.creatorConn, `GRANT TRIGGER ON l1.t TO `+quoted(o.owner))
			}
			require.Equal(t, []string{"l1.t tracked"}, o.publisherPass())
			require.Empty(t, o.publisherPass())
			require.Empty(t, o.texts(`SELECT table_name::text FROM pgfanout.untracked_tables()`))
			requireAllowed(t, writer, `INSERT INTO l1.t VALUES (3, 'tracked')`)
			requireChanges(t, []want{{"I", `{"id":3}`, `{"id":3,"v":"tracked"}`}}, o.changes())
			var owner string
			o.scalar(&owner, `SELECT DISTINCT proowner::regrole::text FROM pg_proc WHERE proname ~ '^capture_[0-9]+_'`)
			require.Equal(t, o.owner, owner, "the capture functions run as the capture owner")
		})
	}
}

// A pass never waits long: a table whose writers hold its lock is left for the next pass,
// and a pass finding another pass or a track_schema() under way returns at once.
func TestTrackNewTablesDoesNotWait(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(`CREATE SCHEMA l1; SELECT pgfanout.track_schema('l1'); CREATE SCHEMA l2; SELECT pgfanout.track_schema('l2');
		CREATE TABLE l1.busy (id int PRIMARY KEY); CREATE TABLE l1.free (id int PRIMARY KEY)`)
	// Without lock_timeout the pass would wait for the writer, beyond this deadline.
	passWithin := func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		rows, err := s.conn.Query(ctx, `SELECT table_name FROM pgfanout.track_new_tables()`)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}

	writer, err := testenv.Connect(t, s.url).Begin(ctxT(t))
	require.NoError(t, err)
	_, err = writer.Exec(ctxT(t), `INSERT INTO l1.busy VALUES (1)`)
	require.NoError(t, err)
	require.Equal(t, []string{"l1.free"}, passWithin(), "the busy table waits, unreported")
	require.Equal(t, []string{"l1.busy: created since the last pass; the publisher's next pass tracks it"}, s.untrackedTables())
	require.NoError(t, writer.Commit(ctxT(t)))
	require.Equal(t, []string{"l1.busy"}, passWithin())

	s.exec(`CREATE TABLE l2.later (id int PRIMARY KEY)`)
	other, err := testenv.Connect(t, s.url).Begin(ctxT(t))
	require.NoError(t, err)
	_, err = other.Exec(ctxT(t), `SELECT pgfanout.track_schema('l1')`)
	require.NoError(t, err)
	require.Empty(t, passWithin(), "a track_schema() under way")
	require.NoError(t, other.Commit(ctxT(t)))
	require.Equal(t, []string{"l2.later"}, passWithin())
}
