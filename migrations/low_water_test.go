package migrations_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

// advance calls pgfanout.advance_low_water() as the publisher does, in a transaction of its own.
func (s *source) advance() int64 {
	s.t.Helper()
	var low int64
	s.scalar(&low, `SELECT pgfanout.advance_low_water()`)
	return low
}

// advancesTo calls advance until the mark reaches at least want. Other databases' transactions
// on the shared server hold the mark back until they end, so this polls.
func (s *source) advancesTo(want int64) int64 {
	s.t.Helper()
	var low int64
	testenv.Eventually(s.t, "the low-water mark to reach the log's oldest unconfirmed change", time.Minute, func() bool {
		low = s.advance()
		return low >= want
	})
	return low
}

func (s *source) oldestVersion() int64 {
	s.t.Helper()
	var v int64
	s.scalar(&v, `SELECT min(version) FROM pgfanout.changes`)
	return v
}

// The mark never passes a change still in the log, nor one whose transaction has not
// committed yet: a transaction that took its version before the mark's sample holds the mark
// below that version until it ends, and then its entry does, until the publisher deletes it.
func TestLowWaterStopsAtUnconfirmedChanges(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	s.exec(`CREATE TABLE t (id int PRIMARY KEY, v text); SELECT pgfanout.track('t')`)
	require.Equal(t, int64(0), s.advance(), "a new source's mark")

	s.exec(`INSERT INTO t SELECT g, 'a' FROM generate_series(1, 10) g`)
	first := s.oldestVersion()
	require.Equal(t, first, s.advancesTo(first), "the mark stops at the oldest entry in the log")

	// A writer takes a version and keeps its transaction open.
	open, err := testenv.Connect(t, s.url).Begin(ctxT(t))
	require.NoError(t, err)
	_, err = open.Exec(ctxT(t), `UPDATE t SET v = 'b' WHERE id = 1`)
	require.NoError(t, err)
	var taken int64
	require.NoError(t, open.QueryRow(ctxT(t), `SELECT max(version) FROM pgfanout.changes`).Scan(&taken))
	require.Greater(t, taken, first)
	// Everything committed so far is confirmed and deleted.
	s.exec(`DELETE FROM pgfanout.changes`)
	for range 5 {
		low := s.advance()
		require.LessOrEqual(t, low, taken, "the mark passed the open transaction's version")
	}

	require.NoError(t, open.Commit(ctxT(t)))
	pending := s.oldestVersion()
	require.Equal(t, taken, pending)
	for range 5 {
		require.LessOrEqual(t, s.advance(), pending, "the mark passed the committed, unconfirmed change")
	}
	s.exec(`DELETE FROM pgfanout.changes`)
	require.Greater(t, s.advancesTo(pending+1), pending, "the mark passes the change once it is deleted")
}

// Inside a transaction that already wrote, the sample could miss a later writer: refused.
func TestLowWaterRefusesASharedTransaction(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	tx, err := s.conn.Begin(ctxT(t))
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctxT(t)) }()
	_, err = tx.Exec(ctxT(t), `SELECT pg_current_xact_id()`)
	require.NoError(t, err)
	_, err = tx.Exec(ctxT(t), `SELECT pgfanout.advance_low_water()`)
	require.ErrorContains(t, err, "transaction of its own")
}
