package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/proctest"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestReplicatorHelpListsFlagsAndEnv(t *testing.T) {
	t.Parallel()
	bin := bins.replicator
	for _, args := range [][]string{{"--help"}, {"declare", "--help"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		require.NoError(t, err, "%v exits 0", args)
		for _, want := range []string{
			"--replica-url", "PGFANOUT_REPLICA_URL", "--amqp-url", "PGFANOUT_AMQP_URL",
			"--replica-name", "PGFANOUT_REPLICA_NAME", "--exchange", "PGFANOUT_EXCHANGE", "(default pgfanout)",
			"--tables", "PGFANOUT_TABLES", "(default *.*)", "--http-addr", "PGFANOUT_HTTP_ADDR", "(default 127.0.0.1:9188)",
			"--batch-size", "(default 100)", "--batch-changes", "--batch-wait", "(default 0s)",
			"--prefetch", "(default 200)", "--max-attempts", "(default 5)", "--workers", "PGFANOUT_WORKERS", "--bookkeeping-horizon", "PGFANOUT_BOOKKEEPING_HORIZON", "(default 1m0s)",
			"--create-tables", "PGFANOUT_CREATE_TABLES", "(default true)", "--follow-ddl", "PGFANOUT_FOLLOW_DDL", "--log-level", "--log-format",
			"--io-timeout", "PGFANOUT_IO_TIMEOUT", "(default 20s)", "--tcp-keepalive", "(default 5s)", "--amqp-heartbeat", "PGFANOUT_AMQP_HEARTBEAT",
		} {
			require.Contains(t, string(out), want, "%v", args)
		}
	}
	out, err := exec.Command(bin, "--help").CombinedOutput()
	require.NoError(t, err)
	require.Contains(t, string(out), "declare")
	require.Contains(t, string(out), "healthcheck")
	out, err = exec.Command(bin).CombinedOutput()
	require.Error(t, err, "missing --replica-url fails")
	require.Contains(t, string(out), "--replica-url")
}

func TestReplicatorDeclareCreatesQueueAndBindings(t *testing.T) {
	t.Parallel()
	bin := bins.replicator
	amqpURL, exchange, name := testenv.AMQPURL(t), testenv.UniqueName("pgf_x"), testenv.UniqueName("pgf_r")
	queue := "pgfanout." + name
	testenv.CleanupAMQP(t, amqpURL, []string{exchange, exchange + ".dead"}, []string{queue, queue + ".dead"})
	out, err := exec.Command(bin, "declare", "--replica-url", "postgres://u:p@db.example:5432/app", "--amqp-url", amqpURL,
		"--exchange", exchange, "--replica-name", name, "--tables", `public.*, sales.orders, "odd.schema"."x*y"`).CombinedOutput()
	require.NoError(t, err, "%s", out)

	ch := testenv.AMQPChannel(t)
	_, err = ch.QueueDeclarePassive(queue+".dead", true, false, false, false, nil)
	require.NoError(t, err, "dead-letter queue declared")
	require.NoError(t, ch.Confirm(false))
	for _, key := range []string{
		"public.a", "sales.orders", change.RoutingKey("odd.schema", "x*y"), // bound
		"sales.customers", "other.orders", "public", change.RoutingKey("odd.schema", "xzy"), // not bound
	} {
		dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), exchange, key, false, false, amqp.Publishing{Body: []byte(key)})
		require.NoError(t, err)
		require.True(t, dc.Wait())
	}
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	require.NoError(t, err)
	require.Equal(t, 3, q.Messages, "exactly the bound tables reach the queue")
}

func TestReplicatorsConvergeUnderLoad(t *testing.T) {
	t.Parallel()
	e := newRepEnv(t, "", "")
	var procs []*repProc
	for i := 0; i < 3; i++ {
		procs = append(procs, e.start(t, "--batch-size", "20", "--batch-wait", "5ms"))
	}
	published := 0
	for round := 0; round < 25; round++ {
		e.workload(t, 12)
		published += e.publish(t)
	}
	t.Logf("published %d messages to 3 replicators", published)
	e.converged(t, time.Minute)
	code, metrics := procs[0].get(t, "/metrics")
	require.Equal(t, 200, code)
	require.Contains(t, metrics, "pgfanout_replicator_applied_changes_total")
	require.Contains(t, metrics, "pgfanout_replicator_deadlocks_total")
	code, _ = procs[0].get(t, "/readyz")
	require.Equal(t, 200, code)
	out, err := exec.Command(e.bin, "healthcheck", "--http-addr", procs[1].addr(t)).CombinedOutput()
	require.NoError(t, err, "healthcheck: %s", out)
	for _, p := range procs {
		// Three processes × two workers applied overlapping keys: one lock order, no deadlock.
		v, err := proctest.Counter(p.addr(t), "pgfanout_replicator_deadlocks_total")
		require.NoError(t, err)
		require.Zero(t, v, "deadlocks")
		p.terminate(t)
	}
}

func TestReplicatorKilledMidBatchConverges(t *testing.T) {
	t.Parallel()
	e := newRepEnv(t, "", "")
	for round := 0; round < 20; round++ {
		e.workload(t, 15)
		e.publish(t)
	}
	p := e.start(t, "--batch-size", "2", "--batch-wait", "1ms")
	testenv.Eventually(t, "a first batch applied", 30*time.Second, func() bool { return p.applied(t) > 0 })
	p.kill(t)
	e.workload(t, 20)
	e.publish(t)
	p = e.start(t)
	e.converged(t, time.Minute)
	p.terminate(t)
}

func TestReplicatorDeadLettersPoisonAndContinues(t *testing.T) {
	t.Parallel()
	e := newRepEnv(t, "", "")
	// A password in the replica URL (trust auth ignores it) must never reach the log.
	e.repURL = strings.Replace(e.repURL, "postgres@", "postgres:s3cret-pw@", 1)
	p := e.start(t, "--max-attempts", "2")
	e.workload(t, 30)
	e.publish(t)
	key, body := garbage("public", "orders")
	e.pub.Raw(t, key, amqp.Publishing{MessageId: "poison-1", Body: body})
	bad := []change.Change{{Version: 1 << 40, Op: change.Insert, Schema: "public", Table: "orders",
		Key: json.RawMessage(`{"id":-1}`), Row: json.RawMessage(`{"id":-1,"no_such_column":1}`), CommittedAt: time.Now()}}
	key, msg := sourcetest.Message(bad)
	msg.MessageId = "poison-2"
	e.pub.Raw(t, key, msg)
	e.workload(t, 30)
	e.publish(t)
	e.converged(t, time.Minute)

	ch := testenv.AMQPChannel(t)
	dead := map[string]string{}
	testenv.Eventually(t, "2 dead letters", 30*time.Second, func() bool {
		d, ok, err := ch.Get("pgfanout."+e.name+".dead", true)
		require.NoError(t, err)
		if ok {
			dead[d.MessageId], _ = d.Headers["x-pgfanout-error"].(string)
		}
		return len(dead) == 2
	})
	require.Contains(t, dead["poison-1"], "not a pgfanout message")
	require.Contains(t, dead["poison-2"], "no_such_column")
	// Counted after the dead letter's confirm and the original's ack: a dead letter can be in
	// its queue before it is counted.
	testenv.Eventually(t, "2 dead letters counted", 10*time.Second, func() bool {
		v, err := proctest.Counter(p.addr(t), "pgfanout_replicator_dead_lettered_total")
		require.NoError(t, err)
		return v == 2
	})
	p.terminate(t)
	require.NotContains(t, p.Output(), "s3cret-pw")
}

func TestReplicatorSurvivesReplicaRestart(t *testing.T) {
	t.Parallel() // a private server on a port of its own
	pg := testenv.StartPostgres(t)
	sourcetest.Exec(t, sourcetest.Connect(t, pg.URL), `CREATE DATABASE replica`)
	e := newRepEnv(t, testenv.WithDatabase(t, pg.URL, "replica"), "")
	p := e.start(t, "--batch-size", "10")
	e.workload(t, 30)
	e.publish(t)
	e.converged(t, time.Minute)

	e.rep.Close(context.Background())
	pg.Stop(t)
	e.workload(t, 40)
	e.publish(t)
	testenv.Eventually(t, "/readyz to fail while the replica is down", 30*time.Second, func() bool { code, _ := p.get(t, "/readyz"); return code == 503 })
	pg.Start(t)
	e.rep = sourcetest.Connect(t, e.repURL)
	e.converged(t, time.Minute)
	require.True(t, p.running())
	p.terminate(t)
	ch := testenv.AMQPChannel(t)
	q, err := ch.QueueDeclarePassive("pgfanout."+e.name+".dead", true, false, false, false, nil)
	require.NoError(t, err)
	require.Zero(t, q.Messages, "an outage never dead-letters")
}

func TestReplicatorSurvivesRabbitMQRestart(t *testing.T) {
	t.Parallel()
	mq := testenv.StartRabbitMQ(t) // private, on ports of its own: the shared broker is never stopped
	e := newRepEnv(t, "", mq.URL())
	p := e.start(t, "--batch-size", "10")
	e.workload(t, 30)
	e.publish(t)
	e.converged(t, time.Minute)

	e.workload(t, 30)
	e.publish(t) // some of it is still queued when the broker goes down
	mq.Stop()
	e.workload(t, 30)
	mq.Start()
	e.pub = sourcetest.NewPublisher(t, mq.URL(), e.exchange)
	e.publish(t)
	e.converged(t, time.Minute)
	require.True(t, p.running())
	p.terminate(t)
}
