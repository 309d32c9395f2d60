package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
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

// bootRig is a source with a big tracked table and a running publisher, and an empty replica
// database with the same table, to be bootstrapped by replicators given --source-url.
type bootRig struct {
	t        *testing.T
	srcURL   string
	src      *pgx.Conn
	exchange string
}

const bootDDL = `CREATE TABLE big (id bigint PRIMARY KEY, k int NOT NULL, pad text, n numeric)`

func newBootRig(t *testing.T, rows int) *bootRig {
	t.Helper()
	r := &bootRig{t: t, exchange: testenv.UniqueName("pgf_x")}
	testenv.CleanupAMQP(t, testenv.AMQPURL(t), []string{r.exchange, r.exchange + ".dead"}, nil)
	r.srcURL, r.src = pubSource(t, bins.publisher)
	sourcetest.Exec(t, r.src, bootDDL, `SELECT pgfanout.track('big')`)
	_, err := r.src.Exec(context.Background(), `INSERT INTO big SELECT g, g % 1000, repeat(md5(g::text), 8), g / 7.0
		FROM generate_series(1, $1::bigint) g`, rows)
	require.NoError(t, err)
	sourcetest.Exec(t, r.src, `ANALYZE big`)
	startPublisher(t, pubEnv{bin: bins.publisher, source: r.srcURL, amqpURL: testenv.AMQPURL(t), exchange: r.exchange})
	return r
}

// replica is one replica database and the name of its queue.
type replica struct {
	url  string
	conn *pgx.Conn
	name string
}

func (r *bootRig) newReplica(ddl ...string) *replica {
	r.t.Helper()
	rep := &replica{url: testenv.NewDatabase(r.t), name: testenv.UniqueName("pgf_r")}
	queue := "pgfanout." + rep.name
	testenv.CleanupAMQP(r.t, testenv.AMQPURL(r.t), nil, []string{queue, queue + ".dead"})
	rep.conn = sourcetest.Connect(r.t, rep.url)
	sourcetest.Exec(r.t, rep.conn, ddl...)
	return rep
}

// args are a replicator's flags for rep.
func (r *bootRig) args(rep *replica, extra ...string) []string {
	return append([]string{"--replica-url", rep.url, "--amqp-url", testenv.AMQPURL(r.t), "--exchange", r.exchange,
		"--replica-name", rep.name, "--source-url", r.srcURL, "--http-addr", "127.0.0.1:0"}, extra...)
}

func (r *bootRig) startReplicator(rep *replica, extra ...string) *repProc {
	r.t.Helper()
	return &repProc{startProc(r.t, exec.Command(bins.replicator, r.args(rep, extra...)...))}
}

// copyState is the replica's copy state of table big ("" before the copier recorded it).
func copyState(t *testing.T, rep *replica) (state string, chunksDone int) {
	t.Helper()
	var ready bool
	require.NoError(t, rep.conn.QueryRow(context.Background(), `SELECT to_regclass('pgfanout.copy_chunks') IS NOT NULL`).Scan(&ready))
	if !ready {
		return "", 0
	}
	err := rep.conn.QueryRow(context.Background(), `SELECT t.state, count(c.id) FILTER (WHERE c.state <> 'pending')
		FROM pgfanout.copy_tables t LEFT JOIN pgfanout.copy_chunks c USING (schema_name, table_name, plan)
		WHERE t.table_name = 'big' GROUP BY t.state`).Scan(&state, &chunksDone)
	if err == pgx.ErrNoRows {
		return "", 0
	}
	require.NoError(t, err)
	return state, chunksDone
}

// bigWriters runs n clients on the source's table big until stopped: inserts of new rows,
// updates and deletes of random ones, and primary-key moves.
type bigWriters struct {
	stop  func()
	wg    sync.WaitGroup
	count atomic.Int64
	mu    sync.Mutex
	err   error
}

func (r *bootRig) write(n, rows int) *bigWriters {
	ctx, cancel := context.WithCancel(context.Background())
	w := &bigWriters{stop: cancel}
	var next atomic.Int64
	next.Store(int64(rows) + 1)
	for i := 0; i < n; i++ {
		conn := sourcetest.Connect(r.t, r.srcURL)
		w.wg.Add(1)
		go func(seed uint64) {
			defer w.wg.Done()
			rnd := rand.New(rand.NewPCG(seed, 3))
			for ctx.Err() == nil {
				id := 1 + rnd.Int64N(next.Load())
				var err error
				switch x := rnd.IntN(10); {
				case x < 3:
					_, err = conn.Exec(ctx, `INSERT INTO big VALUES ($1, 1, 'new', 1)`, next.Add(1))
				case x < 7:
					_, err = conn.Exec(ctx, `UPDATE big SET n = n + 1, pad = 'upd' WHERE id = $1`, id)
				case x < 9:
					_, err = conn.Exec(ctx, `DELETE FROM big WHERE id = $1`, id)
				default: // move the key above every id in use
					_, err = conn.Exec(ctx, `UPDATE big SET id = $2 WHERE id = $1`, id, 10_000_000+next.Add(1))
				}
				if err != nil && ctx.Err() == nil {
					w.mu.Lock()
					w.err = err
					w.mu.Unlock()
					return
				}
				w.count.Add(1)
				time.Sleep(5 * time.Millisecond) // the workload's pace, not a wait
			}
		}(uint64(i + 1))
	}
	r.t.Cleanup(w.finish)
	return w
}

func (w *bigWriters) finish() {
	w.stop()
	w.wg.Wait()
}

// bigChecksum is an independent, order-independent checksum of table big.
func bigChecksum(t *testing.T, conn *pgx.Conn) string { return tableChecksum(t, conn, "big") }

// tableChecksum is an order-independent checksum of a public table: its rows' text.
func tableChecksum(t *testing.T, conn *pgx.Conn, table string) string {
	t.Helper()
	var sum string
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) || ':' || coalesce(sum(hashtext(b::text)::bigint), 0)
		FROM `+pgx.Identifier{"public", table}.Sanitize()+` b`).Scan(&sum))
	return sum
}

// equalSoon waits until rep's big equals the source's; if it does not, it reports up to 10
// differing rows with the replica's bookkeeping of them.
func (r *bootRig) equalSoon(rep *replica, timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for bigChecksum(r.t, r.src) != bigChecksum(r.t, rep.conn) {
		if time.Now().After(deadline) {
			r.t.Fatalf("the replica did not equal the source within %s:\n%s", timeout, r.diff(rep))
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

// diff lists rows of big that differ between the source and rep.
func (r *bootRig) diff(rep *replica) string {
	ctx := context.Background()
	rows := func(conn *pgx.Conn) map[int64]string {
		out := map[int64]string{}
		res, err := conn.Query(ctx, `SELECT id, b::text FROM big b`)
		require.NoError(r.t, err)
		for res.Next() {
			var id int64
			var text string
			require.NoError(r.t, res.Scan(&id, &text))
			out[id] = text
		}
		require.NoError(r.t, res.Err())
		return out
	}
	src, dst := rows(r.src), rows(rep.conn)
	var b strings.Builder
	n := 0
	report := func(id int64) {
		var entry, xmin string
		_ = rep.conn.QueryRow(ctx, `SELECT coalesce((SELECT v::text FROM pgfanout.row_versions v
			WHERE v.key = jsonb_build_array($1::bigint)), 'no entry')`, id).Scan(&entry)
		_ = r.src.QueryRow(ctx, `SELECT coalesce((SELECT xmin::text FROM big WHERE id = $1), '-')`, id).Scan(&xmin)
		fmt.Fprintf(&b, "id %d: source %q (xmin %s) replica %q bookkeeping %s\n", id, src[id], xmin, dst[id], entry)
		n++
	}
	for id, v := range src {
		if dst[id] != v && n < 10 {
			report(id)
		}
	}
	for id := range dst {
		if _, ok := src[id]; !ok && n < 20 {
			report(id)
		}
	}
	fmt.Fprintf(&b, "source %d rows, replica %d rows", len(src), len(dst))
	return b.String()
}
