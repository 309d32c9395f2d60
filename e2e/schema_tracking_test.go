package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// The tables of schema l1, on the source and (created by hand here, so that this test is
// about tracking alone: with --create-tables the replicators would create them) on every
// replica.
const (
	l1Schema = `CREATE SCHEMA l1`
	l1Base   = `CREATE TABLE l1.base (id bigint PRIMARY KEY, n int NOT NULL, pad text)`
	l1Late   = `CREATE TABLE l1.late (id bigint PRIMARY KEY, n int NOT NULL, pad text)`
)

// TestTableCreatedInTrackedSchemaReachesEveryReplica creates a table in a tracked schema while
// 4 clients write and 2 replicas run, and fills it in the transaction that creates it, so
// that its first rows, and the writes until the publisher's next pass tracks it, are never
// captured: the replicators' copy of the newly tracked table supplies them, and both replicas
// end equal to the source with no manual step. The publisher runs with exactly the documented
// grants: it tracks the table through pgfanout.track_new_tables() alone.
func TestTableCreatedInTrackedSchemaReachesEveryReplica(t *testing.T) {
	t.Parallel()
	srcURL := testenv.NewDatabase(t)
	runCmd(t, bins.publisher, "migrate", "--source-url", srcURL)
	r := &bootRig{t: t, srcURL: srcURL, src: sourcetest.Connect(t, srcURL), exchange: testenv.UniqueName("pgf_x")}
	testenv.CleanupAMQP(t, testenv.AMQPURL(t), []string{r.exchange, r.exchange + ".dead"}, nil)
	sourcetest.Exec(t, r.src, l1Schema, l1Base,
		`INSERT INTO l1.base SELECT g, 0, md5(g::text) FROM generate_series(1, 2000) g`,
		`SELECT pgfanout.track_schema('l1')`)
	pubRole, pubURL := testenv.NewRole(t, srcURL, "")
	sourcetest.Exec(t, r.src, testenv.PublisherGrants(t, pubRole))
	pub := startPublisher(t, pubEnv{bin: bins.publisher, source: pubURL, amqpURL: testenv.AMQPURL(t), exchange: r.exchange})

	var reps []*replica
	for i := 0; i < 2; i++ {
		rep := r.newReplica(l1Schema, l1Base, l1Late)
		r.startReplicator(rep)
		reps = append(reps, rep)
	}
	for _, rep := range reps {
		testenv.Eventually(t, "l1.base copied", 2*time.Minute, func() bool { return l1CopyState(t, rep, "base") == "done" })
	}

	w := l1Write(t, srcURL, 4)
	testenv.Eventually(t, "writes flowing", time.Minute, func() bool { return w.count.Load() > 200 })
	sourcetest.Exec(t, r.src, `BEGIN`, l1Late,
		`INSERT INTO l1.late SELECT g, 0, 'before tracking' FROM generate_series(1, 5000) g`, `COMMIT`)
	w.late.Store(true)
	testenv.Eventually(t, "the publisher's pass to track l1.late", time.Minute, func() bool {
		var tracked bool
		require.NoError(t, r.src.QueryRow(context.Background(),
			`SELECT EXISTS (SELECT FROM pgfanout.tracked WHERE relid = 'l1.late'::regclass)`).Scan(&tracked))
		return tracked
	})
	trackedAt := w.lateCount.Load()
	testenv.Eventually(t, "writes to l1.late after tracking", time.Minute, func() bool { return w.lateCount.Load() > trackedAt+500 })
	for _, rep := range reps {
		testenv.Eventually(t, "l1.late copied", 2*time.Minute, func() bool { return l1CopyState(t, rep, "late") == "done" })
	}
	w.finish()
	require.NoError(t, w.err)
	testenv.Eventually(t, "the change log published", time.Minute, func() bool { return pubBacklog(t, r.src) == 0 })
	for _, table := range []string{"base", "late"} {
		for _, rep := range reps {
			l1EqualSoon(t, r.src, rep.conn, table, 2*time.Minute)
		}
	}
	logged := false
	for _, line := range strings.Split(pub.Output(), "\n") {
		logged = logged || strings.Contains(line, `"table":"l1.late"`) && strings.Contains(line, "tracking a table created in a tracked schema")
	}
	require.True(t, logged, "the publisher logs the table it tracked")
	t.Logf("%d statements written, %d of them on l1.late (%d before it was tracked)", w.count.Load(), w.lateCount.Load(), trackedAt)
}

// l1CopyState is rep's copy state of table l1.<table> ("" before the copier recorded it).
func l1CopyState(t *testing.T, rep *replica, table string) string {
	t.Helper()
	// Two statements: a reference to a missing table fails at parse time, whatever CASE says.
	var exists bool
	require.NoError(t, rep.conn.QueryRow(context.Background(), `SELECT to_regclass('pgfanout.copy_tables') IS NOT NULL`).Scan(&exists))
	if !exists {
		return ""
	}
	var state string
	require.NoError(t, rep.conn.QueryRow(context.Background(),
		`SELECT coalesce((SELECT state FROM pgfanout.copy_tables WHERE schema_name = 'l1' AND table_name = $1), '')`, table).Scan(&state))
	return state
}

// l1Checksum is an order-independent checksum of l1.<table>: its rows' text.
func l1Checksum(t *testing.T, conn *pgx.Conn, table string) string {
	t.Helper()
	var sum string
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) || ':' || coalesce(sum(hashtext(b::text)::bigint), 0)
		FROM `+pgx.Identifier{"l1", table}.Sanitize()+` b`).Scan(&sum))
	return sum
}

// l1EqualSoon waits until l1.<table> on the replica equals the source's; if it does not, it
// reports up to 10 differing rows with the replica's bookkeeping of them.
func l1EqualSoon(t *testing.T, src, rep *pgx.Conn, table string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for l1Checksum(t, src, table) != l1Checksum(t, rep, table) {
		if time.Now().After(deadline) {
			t.Fatalf("l1.%s on the replica did not equal the source's within %s:\n%s", table, timeout, l1Diff(t, src, rep, table))
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

func l1Diff(t *testing.T, src, rep *pgx.Conn, table string) string {
	ctx := context.Background()
	q := pgx.Identifier{"l1", table}.Sanitize()
	rows := func(conn *pgx.Conn) map[int64]string {
		res, err := conn.Query(ctx, `SELECT id, b::text FROM `+q+` b`)
		require.NoError(t, err)
		out := map[int64]string{}
		for res.Next() {
			var id int64
			var text string
			require.NoError(t, res.Scan(&id, &text))
			out[id] = text
		}
		require.NoError(t, res.Err())
		return out
	}
	a, b := rows(src), rows(rep)
	var out strings.Builder
	n := 0
	report := func(id int64) {
		var entry string
		_ = rep.QueryRow(ctx, `SELECT coalesce((SELECT v::text FROM pgfanout.row_versions v
			WHERE v.relid = $1::regclass AND v.key = jsonb_build_array($2::bigint)), 'no entry')`, "l1."+table, id).Scan(&entry)
		fmt.Fprintf(&out, "id %d: source %q replica %q bookkeeping %s\n", id, a[id], b[id], entry)
		n++
	}
	for id, v := range a {
		if b[id] != v && n < 10 {
			report(id)
		}
	}
	for id := range b {
		if _, ok := a[id]; !ok && n < 20 {
			report(id)
		}
	}
	fmt.Fprintf(&out, "source %d rows, replica %d rows", len(a), len(b))
	return out.String()
}

// l1Writers are clients writing l1.base, and l1.late too once late is set: inserts, updates,
// deletes and primary-key moves.
type l1Writers struct {
	stop      func()
	wg        sync.WaitGroup
	late      atomic.Bool
	count     atomic.Int64
	lateCount atomic.Int64
	mu        sync.Mutex
	err       error
}

func l1Write(t *testing.T, srcURL string, clients int) *l1Writers {
	ctx, cancel := context.WithCancel(context.Background())
	w := &l1Writers{stop: cancel}
	next := map[string]*atomic.Int64{"base": {}, "late": {}}
	next["base"].Store(2000)
	next["late"].Store(5000)
	for i := 0; i < clients; i++ {
		conn := sourcetest.Connect(t, srcURL)
		w.wg.Add(1)
		go func(seed uint64) {
			defer w.wg.Done()
			rnd := rand.New(rand.NewPCG(seed, 13))
			for ctx.Err() == nil {
				table := "base"
				if w.late.Load() && rnd.IntN(2) == 0 {
					table = "late"
				}
				if err := l1Statement(ctx, conn, rnd, table, next[table]); err != nil && ctx.Err() == nil {
					w.mu.Lock()
					w.err = err
					w.mu.Unlock()
					return
				}
				w.count.Add(1)
				if table == "late" {
					w.lateCount.Add(1)
				}
				time.Sleep(5 * time.Millisecond) // the workload's pace, not a wait
			}
		}(uint64(i + 1))
	}
	t.Cleanup(w.finish)
	return w
}

func l1Statement(ctx context.Context, conn *pgx.Conn, rnd *rand.Rand, table string, next *atomic.Int64) error {
	q := pgx.Identifier{"l1", table}.Sanitize()
	id := 1 + rnd.Int64N(next.Load())
	var err error
	switch x := rnd.IntN(10); {
	case x < 3:
		_, err = conn.Exec(ctx, `INSERT INTO `+q+` VALUES ($1, 1, 'new')`, next.Add(1))
	case x < 7:
		_, err = conn.Exec(ctx, `UPDATE `+q+` SET n = n + 1, pad = 'upd' WHERE id = $1`, id)
	case x < 9:
		_, err = conn.Exec(ctx, `DELETE FROM `+q+` WHERE id = $1`, id)
	default: // move the key above every id in use
		_, err = conn.Exec(ctx, `UPDATE `+q+` SET id = $2 WHERE id = $1`, id, 10_000_000+next.Add(1))
	}
	return err
}

func (w *l1Writers) finish() {
	w.stop()
	w.wg.Wait()
}
