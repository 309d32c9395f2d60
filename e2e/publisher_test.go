package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestPublisherNormalFlow(t *testing.T) {
	t.Parallel()
	env, conn := newPubEnv(t)
	pubExec(t, conn, `ALTER TABLE t ADD COLUMN doc json`)
	ch, queue := pubQueue(t, env.amqpURL, env.exchange, "public.t", nil)
	consumer := pubConsume(t, ch, queue)

	p := startPublisher(t, env)
	testenv.Eventually(t, "leader", 10*time.Second, p.isLeader)
	ctx := context.Background()
	big := make([]byte, 5<<19) // hex-encoded below: a 5 MB value
	_, _ = rand.Read(big)
	pubExec(t, conn,
		`INSERT INTO t (id, v) SELECT g, 'row ' || g FROM generate_series(1, 3000) g`,
		`UPDATE t SET doc = '{"b" :  1, "b": [ 2 ]}' WHERE id = 2`,
		`DELETE FROM t WHERE id = 3`)
	_, err := conn.Exec(ctx, `INSERT INTO t (id, v) VALUES (0, $1)`, hex.EncodeToString(big))
	require.NoError(t, err)
	pubExec(t, conn, `TRUNCATE t`)

	last := pubLastVersion(t, conn)
	require.Equal(t, int64(3004), last)
	consumer.until(last, 30*time.Second)
	got := consumer.changes
	v := pubVersions(t, conn) // v[i] is the (i+1)-th captured change

	var wantBig string
	require.NoError(t, conn.QueryRow(ctx, `SELECT row_to_json(r)::text FROM (SELECT 0 AS id, $1::text AS v, NULL::json AS doc) r`,
		hex.EncodeToString(big)).Scan(&wantBig))
	require.Greater(t, len(wantBig), 5_000_000)
	require.Equal(t, wantBig, string(got[v[3002]].Row), "the 5 MB row arrives byte-exact")
	require.Equal(t, `{"id":2,"v":"row 2","doc":{"b" :  1, "b": [ 2 ]}}`, string(got[v[3000]].Row),
		"json values keep their whitespace and duplicate keys")
	require.Equal(t, change.Delete, got[v[3001]].Op)
	require.Equal(t, change.Truncate, got[v[3003]].Op)

	ids := map[string]bool{}
	for _, d := range consumer.messages {
		require.Equal(t, "application/json", d.ContentType)
		require.Equal(t, amqp.Persistent, d.DeliveryMode)
		require.False(t, ids[d.MessageId], "message ids are unique")
		ids[d.MessageId] = true
		require.Equal(t, "public", d.Headers[change.HeaderSchema])
		require.Equal(t, "t", d.Headers[change.HeaderTable])
		n := d.Headers[change.HeaderCount].(int64)
		require.LessOrEqual(t, n, int64(1000))
		if n > 1 {
			require.LessOrEqual(t, len(d.Body), 1<<20, "messages of several changes stay within 1 MiB")
		}
	}
	require.Less(t, len(consumer.messages), 20, "changes travel many to a message")

	testenv.Eventually(t, "empty change log", 10*time.Second, func() bool { return pubBacklog(t, conn) == 0 })
	testenv.Eventually(t, "the idle lock", 10*time.Second, func() bool { return pubIdle(t, conn) })
	resp, err := http.Get("http://" + p.addr() + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out, err := exec.Command(env.bin, "healthcheck", "--http-addr", p.addr()).CombinedOutput()
	require.NoError(t, err, "publisher healthcheck: %s", out)
	published, _ := p.metric("pgfanout_publisher_changes_published_total")
	require.Equal(t, "3004", published)

	p.terminate()
	// At once, not eventually: the publisher releases the lock before it closes the connection
	// (a closed session's locks last until its backend exited).
	require.False(t, pubIdle(t, conn), "a stopped publisher releases the idle lock")
}

func TestPublisherSurvivesRabbitMQRestart(t *testing.T) {
	t.Parallel() // a private node on ports of its own
	mq := testenv.StartRabbitMQ(t)
	env, conn := newPubEnv(t)
	env.amqpURL, env.exchange = mq.URL(), "pgfanout"
	_, queue := pubQueue(t, mq.URL(), env.exchange, "public.t", amqp.Table{"x-queue-type": "quorum"})

	p := startPublisher(t, env)
	w := startWriter(t, env.source, 1)
	testenv.Eventually(t, "first changes published", 20*time.Second, func() bool {
		v, _ := p.metric("pgfanout_publisher_changes_published_total")
		return v != "" && v != "0"
	})
	mq.Stop()
	before := w.rows.Load()
	testenv.Eventually(t, "writes during the outage", 10*time.Second, func() bool { return w.rows.Load() > before+500 })
	mq.Start()
	before = w.rows.Load()
	testenv.Eventually(t, "writes after the restart", 10*time.Second, func() bool { return w.rows.Load() > before+500 })
	w.finish(t)
	last := pubLastVersion(t, conn)
	testenv.Eventually(t, "empty change log", 60*time.Second, func() bool { return pubBacklog(t, conn) == 0 })

	amqpConn, err := amqp.Dial(mq.URL())
	require.NoError(t, err)
	defer amqpConn.Close()
	ch, err := amqpConn.Channel()
	require.NoError(t, err)
	c := pubConsume(t, ch, queue)
	c.until(last, 30*time.Second)
	t.Logf("%d changes, %d duplicates after the broker restart", last, c.dups)
	require.LessOrEqual(t, strings.Count(p.Output(), "unavailable, retrying"), 3, "the outage is logged once, then periodically")
	p.terminate()
}

func TestPublisherKilledMidBatchAndRestarted(t *testing.T) {
	t.Parallel()
	env, conn := newPubEnv(t)
	ch, queue := pubQueue(t, env.amqpURL, env.exchange, "public.t", nil)
	pubExec(t, conn, `INSERT INTO t SELECT g, 'prefilled' FROM generate_series(1000001, 1100000) g`)
	w := startWriter(t, env.source, 1)

	p := startPublisher(t, env, "--batch-size", "2000")
	testenv.Eventually(t, "first messages published", 20*time.Second, func() bool {
		v, _ := p.metric("pgfanout_publisher_messages_published_total")
		return v != "" && v != "0"
	})
	p.kill()
	require.Positive(t, pubBacklog(t, conn), "the kill must interrupt the drain")

	p = startPublisher(t, env)
	w.finish(t)
	last := pubLastVersion(t, conn)
	testenv.Eventually(t, "empty change log", 60*time.Second, func() bool { return pubBacklog(t, conn) == 0 })
	c := pubConsume(t, ch, queue)
	c.until(last, 30*time.Second)
	t.Logf("%d changes, %d published twice", last, c.dups)
	p.terminate()
}

func TestPublisherRecoversFromCutPostgresConnections(t *testing.T) {
	t.Parallel()
	env, conn := newPubEnv(t)
	ch, queue := pubQueue(t, env.amqpURL, env.exchange, "public.t", nil)
	c := pubConsume(t, ch, queue)
	p := startPublisher(t, env)
	admin := testenv.Connect(t, testenv.PGURL(t))
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		testenv.Eventually(t, "the publisher's connections", 10*time.Second, func() bool {
			var n int
			require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1
				AND application_name IN ('pgfanout-publisher', 'pgfanout-publisher-listen')`, conn.Config().Database).Scan(&n))
			return n == 2
		})
		_, err := conn.Exec(ctx, `INSERT INTO t SELECT g, 'x' FROM generate_series($1::int, $1 + 99) g`, round*100+1)
		require.NoError(t, err)
		// Returns once the cut backends have exited: until then they are listed, and the next
		// round would count them as the publisher's connections and cut them again.
		cut := testenv.TerminateBackends(t, admin, conn.Config().Database, "pgfanout-publisher%")
		require.Positive(t, cut, "round %d cut nothing", round)
	}
	c.until(300, 30*time.Second)
	testenv.Eventually(t, "empty change log", 10*time.Second, func() bool { return pubBacklog(t, conn) == 0 })
	p.terminate()
}

// Not in parallel with the others: it holds the takeover to 5 s.
func TestPublisherStandbyTakesOver(t *testing.T) {
	env, conn := newPubEnv(t)
	ch, queue := pubQueue(t, env.amqpURL, env.exchange, "public.t", nil)
	c := pubConsume(t, ch, queue)
	a, b := startPublisher(t, env), startPublisher(t, env)
	testenv.Eventually(t, "a leader", 10*time.Second, func() bool { return a.isLeader() || b.isLeader() })

	var both atomic.Bool
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() { // never two leaders, sampled every 20 ms
		defer close(watched)
		for {
			if a.isLeader() && b.isLeader() {
				both.Store(true)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	leader, standby := a, b
	if b.isLeader() {
		leader, standby = b, a
	}
	require.False(t, standby.isLeader())
	pubExec(t, conn, `INSERT INTO t VALUES (1, 'before')`)
	c.until(1, 10*time.Second)

	leader.kill()
	killed := time.Now()
	pubExec(t, conn, `INSERT INTO t VALUES (2, 'after')`)
	c.until(2, 10*time.Second)
	require.Less(t, time.Since(killed), 5*time.Second, "the standby publishes within 5 s of the leader's death")
	require.True(t, standby.isLeader())
	close(stop)
	<-watched
	require.False(t, both.Load(), "two publishers were leader at once")
	standby.terminate()
}

func TestPublisherRoutesEscapedNames(t *testing.T) {
	t.Parallel()
	env, conn := newPubEnv(t)
	schema, table := `we.ird "s" ü`, `t a*b#%`
	qualified := pgx.Identifier{schema, table}.Sanitize()
	pubExec(t, conn, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize(),
		`CREATE TABLE `+qualified+` (id int PRIMARY KEY)`)
	_, err := conn.Exec(context.Background(), `SELECT pgfanout.track($1)`, qualified)
	require.NoError(t, err)
	key := change.RoutingKey(schema, table)
	require.Equal(t, `we%2Eird%20"s"%20%C3%BC.t%20a%2Ab%23%25`, key)
	ch, queue := pubQueue(t, env.amqpURL, env.exchange, key, nil)
	c := pubConsume(t, ch, queue)
	startPublisher(t, env)
	pubExec(t, conn, `INSERT INTO `+qualified+` VALUES (1)`)
	c.until(1, 10*time.Second)
	require.Equal(t, schema, c.changes[1].Schema)
	require.Equal(t, table, c.changes[1].Table)
	require.Equal(t, key, c.messages[0].RoutingKey)
}

func TestPublisherHelpListsFlagsAndEnv(t *testing.T) {
	t.Parallel()
	bin := bins.publisher
	out, err := exec.Command(bin, "--help").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, want := range []string{
		"--source-url", "PGFANOUT_SOURCE_URL", "--amqp-url", "PGFANOUT_AMQP_URL",
		"--exchange", "PGFANOUT_EXCHANGE", "default pgfanout", "--http-addr", "PGFANOUT_HTTP_ADDR", "default 127.0.0.1:9187",
		"--batch-size", "PGFANOUT_BATCH_SIZE", "default 10000", "--poll-interval", "PGFANOUT_POLL_INTERVAL", "default 1s",
		"--log-level", "PGFANOUT_LOG_LEVEL", "--log-format", "PGFANOUT_LOG_FORMAT", "migrate", "healthcheck",
		"--leader-lease", "PGFANOUT_LEADER_LEASE", "default 15s", "--progress-timeout", "PGFANOUT_PROGRESS_TIMEOUT", "default 1m0s",
		"--io-timeout", "PGFANOUT_IO_TIMEOUT", "default 20s", "--tcp-keepalive", "PGFANOUT_TCP_KEEPALIVE", "default 5s",
		"--amqp-heartbeat", "PGFANOUT_AMQP_HEARTBEAT",
	} {
		require.Contains(t, string(out), want)
	}
	out, err = exec.Command(bin).CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "--source-url (or PGFANOUT_SOURCE_URL) is required")
}

func TestPublisherNeverLogsPasswords(t *testing.T) {
	t.Parallel()
	env, _ := newPubEnv(t)
	pgSecret, mqSecret := testenv.UniqueName("pgSecret"), testenv.UniqueName("mqSecret")
	withPassword := func(raw, password string) string {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		u.User = url.UserPassword(u.User.Username(), password)
		return u.String()
	}
	// The source accepts any password here (trust); RabbitMQ refuses the wrong one, so the
	// publisher logs connection errors for the URL carrying it.
	env.source, env.amqpURL = withPassword(env.source, pgSecret), withPassword(env.amqpURL, mqSecret)
	p := startPublisher(t, env)
	testenv.Eventually(t, "the RabbitMQ failure logged", 20*time.Second, func() bool {
		return strings.Contains(p.Output(), `"target":"rabbitmq"`)
	})
	p.terminate()
	logs := p.Output()
	require.Contains(t, logs, "xxxxx", "URLs are logged redacted")

	bad, err := exec.Command(env.bin, "migrate", "--source-url", withPassword("postgres://postgres@127.0.0.1:1/x", pgSecret)).CombinedOutput()
	require.Error(t, err)
	for _, out := range []string{logs, string(bad)} {
		require.NotContains(t, out, pgSecret)
		require.NotContains(t, out, mqSecret)
	}
}
