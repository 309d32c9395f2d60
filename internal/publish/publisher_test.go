package publish

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestPublishesConfirmsAndDeletes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.exec(`INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 2500) g`) // backlog before start
	cfg := h.config()
	cfg.BatchSize, cfg.MessageChanges = 1000, 300
	p := h.start(cfg)
	h.receive(2500, 20*time.Second)
	testenv.Eventually(t, "the publisher to take the idle lock", patience, h.idle)

	// One statement at a time, each received before the next, so that each is a batch of its
	// own (three statements committed together may share one message).
	h.exec(`UPDATE t SET v = 'changed' WHERE id <= 10`)
	h.receive(2510, 10*time.Second)
	h.exec(`DELETE FROM t WHERE id = 1`)
	h.receive(2511, 10*time.Second)
	h.exec(`TRUNCATE t`)
	h.receive(2512, 10*time.Second)
	got := h.inVersionOrder()
	require.Equal(t, change.Update, got[2500].Op)
	require.Equal(t, change.Delete, got[2510].Op)
	require.Equal(t, change.Truncate, got[2511].Op)
	require.JSONEq(t, `{"id":2,"v":"row 2"}`, string(got[1].Row))

	testenv.Eventually(t, "an empty change log", patience, func() bool { return h.backlog() == 0 })
	// The metrics of a batch are recorded after its delete, on the goroutine that then takes
	// the idle lock: once the lock is taken, they are final.
	testenv.Eventually(t, "the publisher to take the idle lock", patience, h.idle)
	require.Equal(t, 2512.0, counter(p.m.changes))
	require.GreaterOrEqual(t, counter(p.m.messages), float64(2500/300+3))
	require.Equal(t, 1.0, counter(p.m.isLeader))
	require.Zero(t, counter(p.m.unroutable))
}

func TestStopsCleanlyAndClearsIdle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p, err := New(h.config(), testLogger(t), h.reg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	testenv.Eventually(t, "the publisher to lead", patience, func() bool { return counter(p.m.isLeader) == 1 })
	testenv.Eventually(t, "the publisher to take the idle lock", patience, h.idle)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("publisher did not stop within 10 s")
	}
	// At once, not eventually: the publisher releases the lock before it closes the connection
	// (a closed session's locks last until its backend exited).
	require.False(t, h.idle(), "a stopped publisher releases the idle lock")
}

func TestCountsUnroutableMessages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.exec(`CREATE TABLE nobody (id int PRIMARY KEY)`, `SELECT pgfanout.track('nobody')`,
		`INSERT INTO nobody VALUES (1)`)
	p := h.start(h.config())
	testenv.Eventually(t, "the unroutable message to be counted", patience, func() bool { return counter(p.m.unroutable) == 1 })
	testenv.Eventually(t, "an empty change log", patience, func() bool { return h.backlog() == 0 })
}

// A transaction that took its versions early and commits late must still be published
// while a steady stream of later versions keeps batches in flight.
func TestPublishesLateCommitsUnderLoad(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cfg := h.config()
	cfg.BatchSize = 20
	h.start(cfg)
	ctx := context.Background()
	late, err := h.conn.Begin(ctx)
	require.NoError(t, err)
	_, err = late.Exec(ctx, `INSERT INTO t SELECT g, 'late' FROM generate_series(1, 5) g`) // the lowest versions
	require.NoError(t, err)

	other := testenv.Connect(t, h.url)
	for i := 0; i < 40; i++ {
		_, err := other.Exec(ctx, `INSERT INTO t SELECT g, 'early' FROM generate_series($1::int, $1 + 9) g`, 100+i*10)
		require.NoError(t, err)
	}
	require.NoError(t, late.Commit(ctx))
	h.receive(405, 20*time.Second)
	require.Equal(t, `{"id":1,"v":"late"}`, string(h.inVersionOrder()[0].Row))
}

func TestRecoversWhenPostgresConnectionsAreCut(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.start(h.config())
	admin := testenv.Connect(t, testenv.PGURL(t))
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		testenv.Eventually(t, "leader and listener connections", patience, func() bool {
			var n int
			require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = $1 AND application_name IN ($2, $3, $4)`,
				h.conn.Config().Database, AppName, listenAppName, leaseAppName).Scan(&n))
			return n == 3
		})
		_, err := h.conn.Exec(ctx, `INSERT INTO t SELECT g, 'x' FROM generate_series($1::int, $1 + 99) g`, round*100+1)
		require.NoError(t, err)
		// Returns once the cut backends have exited: until then they are listed, and the next
		// round would count them as the publisher's connections and cut them again.
		cut := testenv.TerminateBackends(t, admin, h.conn.Config().Database, AppName+"%")
		require.Positive(t, cut, "round %d cut nothing", round)
	}
	h.receive(300, 20*time.Second)
	testenv.Eventually(t, "an empty change log", patience, func() bool { return h.backlog() == 0 })
	require.Positive(t, counter(p.m.reconnects.WithLabelValues(targetPostgres)))
}

// Under steady writes the log is empty only between commits. The publisher must not take its
// idle lock in those gaps: while it holds it the next commit notifies, and a notifying commit
// takes a cluster-wide lock.
func TestSteadyWritesDoNotNotify(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	listener := testenv.Connect(t, h.url)
	_, err := listener.Exec(ctx, `LISTEN pgfanout; LISTEN pgfanout_test_sentinel`)
	require.NoError(t, err)
	h.start(h.config())
	testenv.Eventually(t, "the publisher to take the idle lock", patience, h.idle)
	h.exec(`INSERT INTO t VALUES (0, 'wakes the publisher')`) // the lock was held: this notifies
	h.receive(1, 10*time.Second)
	// countNotifications counts the capture's notifications committed so far (and not yet
	// counted): it commits a sentinel notification on a channel the publisher does not listen
	// to and reads up to it. Notifications arrive in commit order, so no clock decides when
	// the count is complete.
	countNotifications := func() (n int) {
		sentinel := testenv.UniqueName("sentinel")
		_, err := h.conn.Exec(ctx, `SELECT pg_notify('pgfanout_test_sentinel', $1)`, sentinel)
		require.NoError(t, err)
		for {
			wctx, cancel := context.WithTimeout(ctx, patience)
			nt, err := listener.WaitForNotification(wctx)
			cancel()
			require.NoError(t, err, "waiting for the sentinel notification")
			switch {
			case nt.Channel == "pgfanout_test_sentinel" && nt.Payload == sentinel:
				return n
			case nt.Channel == "pgfanout":
				n++
			}
		}
	}
	countNotifications()

	const writes = 100
	tick := time.NewTicker(5 * time.Millisecond) // a steady writer: the pace is the workload
	defer tick.Stop()
	for i := 1; i <= writes; i++ {
		<-tick.C
		_, err := h.conn.Exec(ctx, `INSERT INTO t VALUES ($1, 'steady')`, i)
		require.NoError(t, err)
	}
	h.receive(writes+1, 20*time.Second)
	// Without the linger the publisher empties the log within each 5 ms gap and takes the
	// lock every time: nearly every write notifies.
	require.LessOrEqual(t, countNotifications(), writes/10, "notifications during steady writes")
}

// A transaction that captured a change while the publisher was busy holds the idle lock
// shared until it ends, and its commit sends no notification. The publisher cannot take the
// lock meanwhile and must look again soon, not only at the (here hour-long) poll interval.
func TestOpenWriterKeepsPublisherAwake(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t)
	writer := testenv.Connect(t, h.url)
	tx, err := writer.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	_, err = tx.Exec(ctx, `INSERT INTO t VALUES (1, 'open while the publisher starts')`)
	require.NoError(t, err)

	cfg := h.config()
	cfg.PollInterval = time.Hour
	p := h.start(cfg)
	testenv.Eventually(t, "the publisher to lead", patience, func() bool { return counter(p.m.isLeader) == 1 })
	// For a while (the publisher retries at 20, 40, 80 ms …) the lock stays untaken. Polled
	// here rather than with require.Never, whose goroutine would share h.conn.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); <-tick.C {
		require.False(t, h.idle(), "idle lock taken under an open writer")
	}
	require.NoError(t, tx.Commit(ctx))
	h.receive(1, 10*time.Second)
	testenv.Eventually(t, "the publisher to take the idle lock", patience, h.idle)
}
