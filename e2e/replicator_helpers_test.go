package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/proctest"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// repEnv is a capture source, a replica with the same tables, and the replica's queue names.
type repEnv struct {
	bin      string
	src      *pgx.Conn
	repURL   string
	rep      *pgx.Conn
	amqpURL  string
	exchange string
	name     string // replica name
	pub      *sourcetest.Publisher
	after    int64 // change log position already published
	rnd      *rand.Rand
}

var repDDL = []string{
	`CREATE TABLE orders (id int PRIMARY KEY, customer text, amount numeric(12,2), note jsonb)`,
	`CREATE TABLE events (kind text, num int)`,
}

var repTables = []string{"orders", "events"}

// newRepEnv prepares everything; repURL "" means a new database on the shared server, amqpURL
// "" the shared broker.
func newRepEnv(t *testing.T, repURL, amqpURL string) *repEnv {
	t.Helper()
	if repURL == "" {
		repURL = testenv.NewDatabase(t)
	}
	if amqpURL == "" {
		amqpURL = testenv.AMQPURL(t)
	}
	e := &repEnv{bin: bins.replicator, repURL: repURL, amqpURL: amqpURL,
		exchange: testenv.UniqueName("pgf_x"), name: testenv.UniqueName("pgf_r"), rnd: rand.New(rand.NewPCG(1, 2))}
	queue := "pgfanout." + e.name
	testenv.CleanupAMQP(t, amqpURL, []string{e.exchange, e.exchange + ".dead"}, []string{queue, queue + ".dead"})
	e.src = sourcetest.Connect(t, testenv.NewDatabase(t))
	sourcetest.ApplyCapture(t, e.src)
	sourcetest.Exec(t, e.src, repDDL...)
	sourcetest.Exec(t, e.src, `SELECT pgfanout.track('orders')`, `SELECT pgfanout.track('events')`)
	e.rep = sourcetest.Connect(t, repURL)
	sourcetest.Exec(t, e.rep, repDDL...)
	e.run(t, "declare")
	e.pub = sourcetest.NewPublisher(t, e.amqpURL, e.exchange)
	return e
}

func (e *repEnv) args(extra ...string) []string {
	return append([]string{"--replica-url", e.repURL, "--amqp-url", e.amqpURL, "--exchange", e.exchange,
		"--replica-name", e.name, "--http-addr", "127.0.0.1:0"}, extra...)
}

// run runs a subcommand to completion.
func (e *repEnv) run(t *testing.T, sub string, extra ...string) string {
	t.Helper()
	return runCmd(t, e.bin, append([]string{sub}, e.args(extra...)...)...)
}

// workload runs random statements on the source: upserts, updates, primary key changes,
// deletes, duplicate keyless rows, rarely a truncate.
func (e *repEnv) workload(t *testing.T, statements int) {
	t.Helper()
	r := e.rnd
	for i := 0; i < statements; i++ {
		lo := r.IntN(2000)
		var err error
		switch x := r.IntN(100); {
		case x < 35:
			_, err = e.src.Exec(context.Background(), `INSERT INTO orders SELECT g, 'c' || (g % 37), g / 7.0, jsonb_build_object('r', $3::int)
				FROM generate_series($1::int, $2::int) g ON CONFLICT (id) DO UPDATE SET amount = excluded.amount + 1, note = excluded.note`,
				lo, lo+r.IntN(40), r.IntN(1000))
		case x < 55:
			_, err = e.src.Exec(context.Background(), `UPDATE orders SET customer = customer || '.', amount = amount * 2 WHERE id % 13 = $1`, r.IntN(13))
		case x < 62:
			_, err = e.src.Exec(context.Background(), `UPDATE orders SET id = id + 5000 WHERE id BETWEEN $1 AND $1 + 3
				AND NOT EXISTS (SELECT FROM orders o WHERE o.id = orders.id + 5000)`, lo)
		case x < 75:
			_, err = e.src.Exec(context.Background(), `DELETE FROM orders WHERE id % 17 = $1 AND id < $2`, r.IntN(17), lo+500)
		case x < 88:
			_, err = e.src.Exec(context.Background(), `INSERT INTO events SELECT 'k' || $1::int, $2::int FROM generate_series(1, $3::int)`, r.IntN(5), r.IntN(4), 1+r.IntN(3))
		case x < 99:
			_, err = e.src.Exec(context.Background(), `DELETE FROM events WHERE ctid IN (SELECT ctid FROM events WHERE num = $1 LIMIT 2)`, r.IntN(4))
		default:
			_, err = e.src.Exec(context.Background(), `TRUNCATE events`)
		}
		require.NoError(t, err)
	}
}

// publish sends the change log written since the last call, one message per entry, and sends
// some entries a second time, as a redelivering broker would.
func (e *repEnv) publish(t *testing.T) int {
	t.Helper()
	entries := sourcetest.Entries(t, e.src, e.after)
	if len(entries) == 0 {
		return 0
	}
	last := entries[len(entries)-1]
	e.after = last[len(last)-1].Version
	for _, en := range entries {
		if e.rnd.IntN(10) == 0 {
			entries = append(entries, en)
		}
	}
	e.pub.Entries(t, entries)
	return len(entries)
}

// converged waits until every table of the replica equals the source, all within timeout.
func (e *repEnv) converged(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, tb := range repTables {
		want := sourcetest.Dump(t, e.src, "public", tb)
		testenv.Eventually(t, fmt.Sprintf("replica table %s to equal the source's (%d rows)", tb, len(want)),
			time.Until(deadline), func() bool { return slices.Equal(sourcetest.Dump(t, e.rep, "public", tb), want) })
	}
}

// repProc is a running replicator; its output is logged if the test fails.
type repProc struct{ *proctest.Proc }

func (e *repEnv) start(t *testing.T, extra ...string) *repProc {
	t.Helper()
	return &repProc{startProc(t, exec.Command(e.bin, e.args(extra...)...))}
}

// terminate sends SIGTERM and requires exit status 0 within 10 s.
func (p *repProc) terminate(t *testing.T) {
	t.Helper()
	stopProc(t, p.Proc)
}

func (p *repProc) kill(t *testing.T) { p.Kill() }

func (p *repProc) running() bool { return p.Running() }

// addr is the bound --http-addr.
func (p *repProc) addr(t *testing.T) string {
	t.Helper()
	a, err := p.Addr(10 * time.Second)
	require.NoError(t, err)
	return a
}

func (p *repProc) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return httpGet(t, p.addr(t), path)
}

// httpGet GETs path of a process's HTTP endpoint at addr: status code and body.
func httpGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// applied reads pgfanout_replicator_applied_changes_total summed over tables.
func (p *repProc) applied(t *testing.T) float64 {
	v, err := proctest.Counter(p.addr(t), "pgfanout_replicator_applied_changes_total")
	require.NoError(t, err)
	return v
}

// garbage is a message no replica can apply.
func garbage(schema, table string) (string, []byte) {
	return change.RoutingKey(schema, table), []byte(`{"this is": "not a change array"}`)
}
