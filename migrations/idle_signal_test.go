package migrations_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
	queries "github.com/pgfanout/pgfanout/sql"
)

// holdIdleKey takes the idle lock's key exclusively on conn, as anyone may: advisory locks
// need no privilege.
func holdIdleKey(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	_, err := conn.Exec(ctxT(t), `SELECT pg_advisory_lock(1885824609, 1)`)
	require.NoError(t, err)
}

// A role outside pgfanout that holds the idle lock's key cannot make commits notify (which
// would put every commit of the cluster behind the NOTIFY lock), nor raise the flag that
// would; the publisher, with its documented grants and its own statements, can.
func TestOutsiderHoldingTheIdleKeyCannotMakeCommitsNotify(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(keyed)
	l := newListener(t, s.url)
	_, outsiderURL := testenv.NewRole(t, s.url, "")
	outsider := testenv.Connect(t, outsiderURL)

	holdIdleKey(t, outsider)
	require.True(t, sourcetest.PublisherIdle(t, s.conn), "the outsider holds the key")
	s.exec(`INSERT INTO t VALUES (1, 'a')`)
	s.exec(`BEGIN; UPDATE t SET v = 'b'; DELETE FROM t; COMMIT`)
	require.Empty(t, l.drain(t, s), "commits notify while an outsider holds the idle key")
	requireDenied(t, outsider,
		`UPDATE pgfanout.leader SET idle_term = term, idle_pid = pg_backend_pid()`,
		`SELECT pgfanout.publisher_idle()`)
	_, err := outsider.Exec(ctxT(t), `SELECT pg_advisory_unlock(1885824609, 1)`)
	require.NoError(t, err)

	// The publisher's role, with exactly the documented grants, raises the flag and takes the
	// lock: now a commit notifies, once per transaction; released, none does.
	pubRole, pubURL := testenv.NewRole(t, s.url, "")
	s.exec(publisherGrants(t, pubRole))
	pub := &listener{conn: testenv.Connect(t, pubURL)}
	pub.idle(t, true)
	s.exec(`BEGIN; INSERT INTO t VALUES (2, 'c'); INSERT INTO t VALUES (3, 'd'); COMMIT`)
	require.Equal(t, []string{""}, l.drain(t, s))
	pub.idle(t, false)
	holdIdleKey(t, outsider)
	s.exec(`INSERT INTO t VALUES (4, 'e')`)
	require.Empty(t, l.drain(t, s), "the flag is down once the publisher has work")
}

// The flag is void once its session is gone or its term has ended, so an outsider who takes
// the key then gains nothing either.
func TestIdleFlagOfAGoneSessionOrAnOldTermIsVoid(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(keyed)
	l := newListener(t, s.url)
	_, outsiderURL := testenv.NewRole(t, s.url, "")
	outsider := testenv.Connect(t, outsiderURL)

	// A publisher that crashed while idle: its flag stays up, its lock went with its session.
	crashed := newListener(t, s.url)
	crashed.idle(t, true)
	var pid int32
	require.NoError(t, crashed.conn.QueryRow(ctxT(t), `SELECT pg_backend_pid()`).Scan(&pid))
	require.NoError(t, crashed.conn.Close(ctxT(t)))
	testenv.WaitBackendsGone(t, s.conn, pid)
	var flagged bool
	s.scalar(&flagged, `SELECT idle_pid IS NOT NULL FROM pgfanout.leader`)
	require.True(t, flagged, "a crashed publisher cannot lower its flag")
	holdIdleKey(t, outsider)
	s.exec(`INSERT INTO t VALUES (1, 'a')`)
	require.Empty(t, l.drain(t, s), "a gone session's flag made a commit notify")
	_, err := outsider.Exec(ctxT(t), `SELECT pg_advisory_unlock(1885824609, 1)`)
	require.NoError(t, err)

	// A leader cut off while idle keeps its session, its lock and its flag; a new term (a
	// standby took the lease) makes the flag void.
	old := newListener(t, s.url)
	old.idle(t, true)
	s.exec(`INSERT INTO t VALUES (2, 'b')`)
	require.Equal(t, []string{""}, l.drain(t, s))
	s.exec(`UPDATE pgfanout.leader SET term = term + 1`)
	s.exec(`INSERT INTO t VALUES (3, 'c')`)
	require.Empty(t, l.drain(t, s), "an old term's flag made a commit notify")
}

// The idle lock cannot be taken while a writer that captured holds it shared; the flag comes
// down with the failed attempt, or an outsider taking the key afterwards would find it up.
func TestFailedIdleTakeLowersTheFlag(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(keyed)
	writer := testenv.Connect(t, s.url)
	_, err := writer.Exec(ctxT(t), `BEGIN; INSERT INTO t VALUES (1, 'a')`)
	require.NoError(t, err)
	pub := newListener(t, s.url)
	var term int64
	s.scalar(&term, `SELECT term FROM pgfanout.leader`)
	require.NoError(t, pub.conn.QueryRow(ctxT(t), queries.IdleRaise, term).Scan(&term))
	var ok, flagged bool
	require.NoError(t, pub.conn.QueryRow(ctxT(t), queries.IdleTake).Scan(&ok))
	require.False(t, ok, "the idle lock is taken under an open writer")
	s.scalar(&flagged, `SELECT idle_pid IS NOT NULL FROM pgfanout.leader`)
	require.False(t, flagged, "a failed take leaves the flag up")
	_, err = writer.Exec(ctxT(t), `COMMIT`)
	require.NoError(t, err)

	// The raise names a term: a publisher whose term ended raises nothing.
	err = pub.conn.QueryRow(ctxT(t), queries.IdleRaise, term+1).Scan(&term)
	require.ErrorIs(t, err, pgx.ErrNoRows)
}
