package replicate

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/sourcegraph/conc/pool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/retry"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rig is a replica database with table public.k(id int primary key, v text), a unique exchange
// and replica name, and a publisher.
type rig struct {
	cfg     Config
	repURL  string
	db      *pgxpool.Pool
	ch      *amqp.Channel // for inspecting queues
	pub     *sourcetest.Publisher
	version int64
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{repURL: testenv.NewDatabase(t)}
	r.cfg = Config{
		AMQPURL: testenv.AMQPURL(t), Exchange: testenv.UniqueName("pgfanout_test"),
		ReplicaName: testenv.UniqueName("replica"), BatchWait: 5 * time.Millisecond,
		RetryDelay: retry.Policy{Min: 20 * time.Millisecond, Max: 50 * time.Millisecond},
		Reconnect:  retry.Policy{Min: 20 * time.Millisecond, Max: 100 * time.Millisecond},
	}
	r.cfg = r.cfg.withDefaults()
	testenv.CleanupAMQP(t, r.cfg.AMQPURL, []string{r.cfg.Exchange, r.cfg.DeadExchange()}, []string{r.cfg.Queue(), r.cfg.DeadQueue()})
	sourcetest.Exec(t, sourcetest.Connect(t, r.repURL), `CREATE TABLE k (id int PRIMARY KEY, v text CHECK (v <> 'bad'))`)
	cfg, err := apply.PoolConfig(r.repURL, liveness.Defaults())
	require.NoError(t, err)
	cfg.MaxConns = 2
	r.db, err = pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(r.db.Close)
	conn := testenv.AMQPConn(t)
	_, err = r.cfg.Topology().Declare(conn)
	require.NoError(t, err)
	r.ch, err = conn.Channel()
	require.NoError(t, err)
	r.pub = sourcetest.NewPublisher(t, r.cfg.AMQPURL, r.cfg.Exchange)
	return r
}

// rows returns n inserts into table, continuing the rig's version sequence.
func (r *rig) rows(table string, n int, value string) []change.Change {
	out := make([]change.Change, n)
	for i := range out {
		r.version++
		id := r.version
		out[i] = change.Change{Version: r.version, Op: change.Insert, Schema: "public", Table: table,
			Key: json.RawMessage(fmt.Sprintf(`{"id":%d}`, id)), Row: json.RawMessage(fmt.Sprintf(`{"id":%d,"v":%q}`, id, value)),
			CommittedAt: time.Now()}
	}
	return out
}

// running is a Replicator running in the background.
type running struct {
	rep    *Replicator
	cancel context.CancelFunc
	pool   *pool.ErrorPool
	reg    *prometheus.Registry
	once   sync.Once
	err    error
}

func (r *rig) start(t *testing.T, applier Applier) *running {
	t.Helper()
	run := &running{reg: prometheus.NewRegistry()}
	cfg := r.cfg
	cfg.Applier = applier
	rep, err := New(cfg, zerolog.Nop(), run.reg)
	require.NoError(t, err)
	run.rep = rep
	ctx, cancel := context.WithCancel(context.Background())
	run.cancel, run.pool = cancel, pool.New().WithErrors()
	run.pool.Go(func() error { return rep.Run(ctx) })
	t.Cleanup(func() { run.stop(t) })
	return run
}

// stop shuts the replicator down and requires a clean exit; later calls are no-ops.
func (run *running) stop(t *testing.T) {
	run.once.Do(func() {
		run.cancel()
		run.err = run.pool.Wait()
	})
	require.NoError(t, run.err)
}

func (run *running) isReady() bool {
	ok, _ := run.rep.Ready()
	return ok
}

func (r *rig) count(t *testing.T, where string) int {
	var n int
	require.NoError(t, r.db.QueryRow(context.Background(), "SELECT count(*) FROM k WHERE "+where).Scan(&n))
	return n
}

// queued is the number of ready messages in a queue: a message delivered and not yet
// acknowledged is not counted.
func (r *rig) queued(t *testing.T, name string) int {
	q, err := r.ch.QueueDeclarePassive(name, true, false, false, false, nil)
	require.NoError(t, err)
	return q.Messages
}

// settled waits until the stopped replicator's consumer has left its queue. Its unacknowledged
// messages return to the queue when the broker has noticed the closed channel, a little after
// stop returned; a quorum queue returns them in the same step that removes the consumer, so
// from then on queued counts them.
func (r *rig) settled(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, "the stopped replicator's consumer to leave "+r.cfg.Queue(), 10*time.Second, func() bool {
		q, err := r.ch.QueueDeclarePassive(r.cfg.Queue(), true, false, false, false, nil)
		require.NoError(t, err)
		return q.Consumers == 0
	})
}

// drain gets every message of a queue.
func (r *rig) drain(t *testing.T, name string) []amqp.Delivery {
	var out []amqp.Delivery
	for {
		d, ok, err := r.ch.Get(name, true)
		require.NoError(t, err)
		if !ok {
			return out
		}
		out = append(out, d)
	}
}
