package e2e

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/netfault"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// faultRig is the whole pipeline — source, publisher, RabbitMQ, replicator, replica — with
// each of the four network paths of the two programs running through a proxy the test
// controls.
type faultRig struct {
	t        *testing.T
	src      *pgx.Conn
	rep      *pgx.Conn
	srcURL   string
	repURL   string
	exchange string
	replica  string
	paths    map[string]*netfault.Proxy
	pubEnv   pubEnv
}

// The four paths.
const (
	pathPubSource = "publisher-source"
	pathPubBroker = "publisher-rabbitmq"
	pathRepBroker = "replicator-rabbitmq"
	pathRepDB     = "replicator-replica"
)

var faultDDL = `CREATE TABLE orders (id int PRIMARY KEY, v text, n int)`

func newFaultRig(t *testing.T) *faultRig {
	t.Helper()
	r := &faultRig{t: t, exchange: testenv.UniqueName("pgf_x"), replica: testenv.UniqueName("pgf_r"),
		paths: map[string]*netfault.Proxy{}}
	queue := "pgfanout." + r.replica
	testenv.CleanupAMQP(t, testenv.AMQPURL(t), []string{r.exchange, r.exchange + ".dead"}, []string{queue, queue + ".dead"})
	r.srcURL, r.src = pubSource(t, bins.publisher)
	sourcetest.Exec(t, r.src, faultDDL, `SELECT pgfanout.track('orders')`)
	r.repURL = testenv.NewDatabase(t)
	r.rep = sourcetest.Connect(t, r.repURL)
	sourcetest.Exec(t, r.rep, faultDDL)
	for _, p := range []struct{ name, url string }{
		{pathPubSource, r.srcURL}, {pathPubBroker, testenv.AMQPURL(t)},
		{pathRepBroker, testenv.AMQPURL(t)}, {pathRepDB, r.repURL},
	} {
		r.paths[p.name] = proxy(t, p.url)
	}
	r.pubEnv = pubEnv{bin: bins.publisher, source: r.via(pathPubSource, r.srcURL),
		amqpURL: r.via(pathPubBroker, testenv.AMQPURL(t)), exchange: r.exchange}
	return r
}

// proxy starts a proxy in front of the server of rawURL.
func proxy(t *testing.T, rawURL string) *netfault.Proxy {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	p, err := netfault.New(u.Host)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

// via is rawURL with its host replaced by the proxy of path.
func (r *faultRig) via(path, rawURL string) string {
	u, err := url.Parse(rawURL)
	require.NoError(r.t, err)
	u.Host = r.paths[path].Addr()
	return u.String()
}

// startReplicator runs a replicator through the replicator's two proxies.
func (r *faultRig) startReplicator() *repProc {
	r.t.Helper()
	args := []string{"--replica-url", r.via(pathRepDB, r.repURL), "--amqp-url", r.via(pathRepBroker, testenv.AMQPURL(r.t)),
		"--exchange", r.exchange, "--replica-name", r.replica, "--http-addr", "127.0.0.1:0"}
	runCmd(r.t, bins.replicator, append([]string{"declare"}, args...)...)
	return &repProc{startProc(r.t, exec.Command(bins.replicator, args...))}
}

// writer runs single-statement transactions against the source, about every 10 ms, until
// stop is called: inserts of new rows, updates and deletes of random ones.
type writer struct {
	stop func()
	wg   sync.WaitGroup
	err  error        // read after finish
	n    atomic.Int64 // statements committed
}

func (r *faultRig) write() *writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{stop: cancel}
	conn := sourcetest.Connect(r.t, r.srcURL)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		rnd := rand.New(rand.NewPCG(7, 11))
		tick := time.NewTicker(10 * time.Millisecond) // the workload's pace
		defer tick.Stop()
		for id := 1; ctx.Err() == nil; id++ {
			var err error
			switch x := rnd.IntN(10); {
			case x < 6:
				_, err = conn.Exec(ctx, `INSERT INTO orders VALUES ($1, 'new', 0)`, id)
			case x < 9:
				_, err = conn.Exec(ctx, `UPDATE orders SET n = n + 1, v = 'upd' WHERE id = $1`, 1+rnd.IntN(id))
			default:
				_, err = conn.Exec(ctx, `DELETE FROM orders WHERE id = $1`, 1+rnd.IntN(id))
			}
			if err != nil && ctx.Err() == nil {
				w.err = err
				return
			}
			w.n.Add(1)
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}()
	r.t.Cleanup(w.finish)
	return w
}

// finish stops the writer and requires that every statement succeeded.
func (w *writer) finish() {
	w.stop()
	w.wg.Wait()
}

// checksum is an order-independent digest of table orders.
func checksum(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var sum string
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT count(*) || ':' || coalesce(md5(string_agg(o::text, ',' ORDER BY id)), '') FROM orders o`).Scan(&sum))
	return sum
}

// converged waits until the replica equals the source; it returns how long that took.
func (r *faultRig) converged(timeout time.Duration) time.Duration {
	r.t.Helper()
	start := time.Now()
	var want, got string
	testenv.Eventually(r.t, "the replica to equal the source", timeout, func() bool {
		want, got = checksum(r.t, r.src), checksum(r.t, r.rep)
		return want == got
	})
	return time.Since(start)
}

// readyz is the status code of a process's /readyz (0 when it does not answer).
func readyz(addr string) int {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	return resp.StatusCode
}
