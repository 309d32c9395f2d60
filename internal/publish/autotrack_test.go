package publish

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// logBuffer collects the publisher's log lines, written from its goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count is how many log lines contain every one of parts.
func (l *logBuffer) count(parts ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.b.String(), "\n") {
		all := line != ""
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// startLogged is harness.start with the log going to logs (and the test's output).
func (h *harness) startLogged(cfg Config, logs *logBuffer) {
	h.t.Helper()
	log := zerolog.New(zerolog.MultiLevelWriter(logs, zerolog.NewTestWriter(h.t))).Level(zerolog.InfoLevel)
	p, err := New(cfg, log, h.reg)
	require.NoError(h.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(h.t, err)
		case <-time.After(10 * time.Second):
			h.t.Error("publisher did not stop within 10 s")
		}
	})
}

func (h *harness) isTracked(table string) bool {
	var ok bool
	require.NoError(h.t, h.conn.QueryRow(context.Background(),
		`SELECT EXISTS (SELECT FROM pgfanout.tracked WHERE relid = to_regclass($1))`, table).Scan(&ok))
	return ok
}

// The leader tracks the tables created in a tracked schema on its own, as the owner of
// pgfanout.track_new_tables(); a table that owner may not create triggers on is logged once,
// tried on every pass, and tracked by the first pass after the grant.
func TestPublisherTracksTablesCreatedInTrackedSchemas(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.exec(`CREATE SCHEMA l1`, `SELECT pgfanout.track_schema('l1')`)
	require.NoError(t, h.ch.QueueBind(h.queue, "l1.*", h.exchange, false, nil))
	// The pass runs as its function's owner: here a role that is not a superuser, may do
	// everything in schema pgfanout, and gets TRIGGER on the tables of l1 only when granted.
	owner, _ := testenv.NewRole(t, h.url, "")
	q := pgx.Identifier{owner}.Sanitize()
	h.exec(`GRANT USAGE, CREATE ON SCHEMA pgfanout TO `+q, `GRANT ALL ON ALL TABLES IN SCHEMA pgfanout TO `+q,
		`GRANT ALL ON ALL SEQUENCES IN SCHEMA pgfanout TO `+q, `GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgfanout TO `+q,
		`GRANT USAGE ON SCHEMA l1 TO `+q, `ALTER FUNCTION pgfanout.track_new_tables() OWNER TO `+q)
	t.Cleanup(func() { h.exec(`DROP SCHEMA l1 CASCADE`, `DROP SCHEMA pgfanout CASCADE`) }) // before the role goes
	logs := &logBuffer{}
	h.startLogged(h.config(), logs)

	h.exec(`CREATE TABLE l1.denied (id int PRIMARY KEY)`, `INSERT INTO l1.denied VALUES (1)`)
	skipped := []string{"cannot track a table created in a tracked schema", `"table":"l1.denied"`, "ALTER DEFAULT PRIVILEGES"}
	testenv.Eventually(t, "the skipped table to be logged", patience, func() bool { return logs.count(skipped...) > 0 })
	// A pass after that one: it tried l1.denied again, and said nothing about it.
	h.exec(`CREATE TABLE l1.granted (id int PRIMARY KEY)`, `GRANT TRIGGER ON l1.granted TO `+q)
	testenv.Eventually(t, "l1.granted tracked", patience, func() bool { return h.isTracked("l1.granted") })
	require.Equal(t, 1, logs.count(skipped...), "a skipped table is logged once")
	require.False(t, h.isTracked("l1.denied"))

	h.exec(`GRANT TRIGGER ON l1.denied TO ` + q)
	testenv.Eventually(t, "l1.denied tracked", patience, func() bool { return h.isTracked("l1.denied") })
	require.Equal(t, 1, logs.count("tracking a table created in a tracked schema", `"table":"l1.denied"`))
	h.exec(`INSERT INTO l1.denied VALUES (2)`)
	select {
	case d := <-h.msgs:
		changes, err := change.DecodeDelivery(d)
		require.NoError(t, err)
		require.Len(t, changes, 1)
		require.Equal(t, []string{"l1", "denied", `{"id":2}`}, []string{changes[0].Schema, changes[0].Table, string(changes[0].Row)})
	case <-time.After(patience):
		t.Fatal("no message for the newly tracked table")
	}
}

// A source whose capture predates migration 6, or a publisher role without EXECUTE on
// track_new_tables(), costs a warning and nothing else: the publisher publishes as before.
func TestPublisherWithoutTrackNewTables(t *testing.T) {
	t.Parallel()
	for name, setup := range map[string]func(h *harness, cfg *Config){
		"old capture": func(h *harness, _ *Config) { h.exec(`DROP FUNCTION pgfanout.track_new_tables()`) },
		"no grant": func(h *harness, cfg *Config) {
			role, roleURL := testenv.NewRole(h.t, h.url, "")
			h.exec(testenv.PublisherGrants(h.t, role),
				`REVOKE EXECUTE ON FUNCTION pgfanout.track_new_tables() FROM `+pgx.Identifier{role}.Sanitize())
			cfg.SourceURL = roleURL
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.exec(`CREATE SCHEMA l1`, `SELECT pgfanout.track_schema('l1')`)
			cfg := h.config()
			setup(h, &cfg)
			logs := &logBuffer{}
			h.startLogged(cfg, logs)
			warned := []string{"cannot track the tables created in tracked schemas", "GRANT EXECUTE ON FUNCTION pgfanout.track_new_tables()"}
			testenv.Eventually(t, "the warning", patience, func() bool { return logs.count(warned...) > 0 })
			h.exec(`INSERT INTO t VALUES (1, 'published')`)
			h.receive(1, patience)
			require.Equal(t, 1, logs.count(warned...))
		})
	}
}
