package migrations_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
	queries "github.com/pgfanout/pgfanout/sql"
)

// listener is a connection LISTENing on the capture's channel.
type listener struct {
	conn *pgx.Conn
}

func newListener(t testing.TB, url string) *listener {
	t.Helper()
	conn := testenv.Connect(t, url)
	_, err := conn.Exec(ctxT(t), `LISTEN pgfanout`)
	require.NoError(t, err)
	return &listener{conn: conn}
}

// drain returns the payloads of every notification committed so far. It commits a sentinel
// notification and reads up to it: notifications arrive in commit order, so whatever an
// earlier commit sent has arrived by then, and "none" needs no waiting on a clock.
func (l *listener) drain(t testing.TB, s *source) []string {
	t.Helper()
	sentinel := testenv.UniqueName("sentinel")
	s.exec(`SELECT pg_notify('pgfanout', $1)`, sentinel)
	payloads := []string{}
	for {
		n, err := l.conn.WaitForNotification(ctxT(t))
		require.NoError(t, err, "waiting for the sentinel notification")
		if n.Payload == sentinel {
			return payloads
		}
		payloads = append(payloads, n.Payload)
	}
}

// idle raises the idle flag for the current leader term and takes the idle lock (true), or
// lowers and releases them, on the listener's connection, as a publisher waiting for work
// does, with the publisher's own statements.
func (l *listener) idle(t testing.TB, on bool) {
	t.Helper()
	var ok bool
	if !on {
		require.NoError(t, l.conn.QueryRow(ctxT(t), queries.IdleRelease).Scan(&ok))
		require.True(t, ok, queries.IdleRelease)
		return
	}
	var term int64
	require.NoError(t, l.conn.QueryRow(ctxT(t), `SELECT term FROM pgfanout.leader`).Scan(&term))
	require.NoError(t, l.conn.QueryRow(ctxT(t), queries.IdleRaise, term).Scan(&term))
	require.NoError(t, l.conn.QueryRow(ctxT(t), queries.IdleTake).Scan(&ok))
	require.True(t, ok, queries.IdleTake)
}
