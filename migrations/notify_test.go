package migrations_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestNotifyModes(t *testing.T) {
	t.Parallel()
	s := newSource(t)
	l := newListener(t, s.url)
	s.exec(keyed)

	// wakeup while the publisher is idle: one empty notification per transaction.
	l.idle(t, true)
	s.exec(`BEGIN; INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b'); COMMIT`)
	s.exec(`INSERT INTO t VALUES (3, 'c')`)
	require.Equal(t, []string{"", ""}, l.drain(t, s))

	// wakeup while the publisher is busy draining: no commit notifies.
	l.idle(t, false)
	s.exec(`INSERT INTO t VALUES (4, 'd')`)
	s.exec(`TRUNCATE t`)
	require.Empty(t, l.drain(t, s))

	// wakeup after an idle publisher died: its lock went with its connection, no commit notifies.
	dead := newListener(t, s.url)
	dead.idle(t, true)
	require.NoError(t, dead.conn.Close(ctxT(t)))
	// Close returns before the server's backend has exited and dropped the lock.
	testenv.Eventually(t, "the dead publisher's idle lock to go", 10*time.Second,
		func() bool { return !sourcetest.PublisherIdle(t, s.conn) })
	s.exec(`INSERT INTO t VALUES (4, 'd')`)
	require.Empty(t, l.drain(t, s))

	// Switching mode needs no re-tracking.
	s.exec(`SELECT pgfanout.set_notify('off')`)
	l.idle(t, true)
	s.exec(`INSERT INTO t VALUES (5, 'e')`)
	require.Empty(t, l.drain(t, s))

	s.exec(`SELECT pgfanout.set_notify('row')`)
	s.changes()
	s.exec(`INSERT INTO t VALUES (6, 'f'), (7, repeat('x', 8000))`)
	s.exec(`UPDATE t SET v = 'g' WHERE id = 6`)
	s.exec(`TRUNCATE t`)
	got := l.drain(t, s)
	log := s.changes()
	require.Len(t, got, 4)
	requireRowPayload(t, got[0], log[0], "insert", `{"id":6}`, `{"id":6,"v":"f"}`)
	require.Equal(t, strconv.FormatInt(log[1].Version, 10), got[1], "a change over 7900 bytes is announced by its version")
	requireRowPayload(t, got[2], log[2], "update", `{"id":6}`, `{"id":6,"v":"g"}`)
	requireRowPayload(t, got[3], log[3], "truncate", `null`, `null`)

	s.exec(`SELECT pgfanout.set_notify('wakeup')`)
	s.exec(`INSERT INTO t VALUES (8, 'h')`)
	require.Equal(t, []string{""}, l.drain(t, s))

	_, err := s.conn.Exec(ctxT(t), `SELECT pgfanout.set_notify('loud')`)
	require.ErrorContains(t, err, "mode must be wakeup, row or off")
}

// requireRowPayload checks a row-mode payload against the contract's message fields.
func requireRowPayload(t *testing.T, payload string, logged change, op, key, row string) {
	t.Helper()
	var c struct {
		Version     int64           `json:"version"`
		Op          string          `json:"op"`
		Schema      string          `json:"schema"`
		Table       string          `json:"table"`
		Key         json.RawMessage `json:"key"`
		Row         json.RawMessage `json:"row"`
		TxID        string          `json:"txid"`
		CommittedAt time.Time       `json:"committed_at"`
	}
	require.NoError(t, json.Unmarshal([]byte(payload), &c), payload)
	require.Equal(t, logged.Version, c.Version)
	require.Equal(t, []string{op, "public", "t", logged.TxID}, []string{c.Op, c.Schema, c.Table, c.TxID})
	require.JSONEq(t, key, string(c.Key))
	require.JSONEq(t, row, string(c.Row))
	require.WithinDuration(t, time.Now(), c.CommittedAt, time.Minute)
}
