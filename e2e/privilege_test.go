package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// docBlock is the code block of docs/replicator.md after the marker <!-- name -->.
func docBlock(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/replicator.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)<!-- " + name + " -->\\s*```[a-z]*\n(.*?)```").FindSubmatch(doc)
	require.NotNil(t, m, "docs/replicator.md lacks the %s block", name)
	return string(m[1])
}

// replicaGrants gives role on the replica at repURL exactly the GRANTs docs/replicator.md
// documents, for its example tables public.orders (keyed) and public.events (keyless).
func replicaGrants(t *testing.T, admin *pgx.Conn, repURL, role string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(repURL)
	require.NoError(t, err)
	sql := strings.ReplaceAll(docBlock(t, "replicator-grants"), "pgfanout_replicator", pgx.Identifier{role}.Sanitize())
	sql = strings.ReplaceAll(sql, "DATABASE replica ", "DATABASE "+pgx.Identifier{cfg.Database}.Sanitize()+" ")
	_, err = admin.Exec(context.Background(), sql)
	require.NoError(t, err, sql)
}

func requirePGDenied(t *testing.T, conn *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, sql := range stmts {
		_, err := conn.Exec(context.Background(), sql)
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr), "%s: want permission denied, got %v", sql, err)
		require.Equal(t, "42501", pgErr.Code, "%s: %v", sql, err)
	}
}

// The replicator replicates, copies included, with exactly the documented replica GRANTs, and
// can write nothing else: a message for a table it may not write is dead-lettered with the
// reason, and the table stays as it was.
func TestReplicatorNeedsOnlyTheDocumentedGrants(t *testing.T) {
	t.Parallel()
	e := newRepEnv(t, "", "")
	sourcetest.Exec(t, e.rep, `CREATE TABLE secret (id int PRIMARY KEY, v text)`, `INSERT INTO secret VALUES (1, 'kept')`)
	role, roleURL := testenv.NewRole(t, e.repURL, "")
	replicaGrants(t, e.rep, e.repURL, role)
	e.workload(t, 40) // rows for the copy to find
	e.repURL = roleURL
	p := e.start(t, "--source-url", e.src.Config().ConnString(), "--create-tables=false", "--follow-ddl=false", "--max-attempts", "1")
	for round := 0; round < 5; round++ {
		e.publish(t)
		e.workload(t, 20)
	}
	e.publish(t)
	e.converged(t, 2*time.Minute)

	forged := []change.Change{{Version: 1 << 50, Op: change.Insert, Schema: "public", Table: "secret",
		Key: json.RawMessage(`{"id" : 2}`), Row: json.RawMessage(`{"id":2,"v":"forged"}`), CommittedAt: time.Now()}}
	key, msg := sourcetest.Message(forged)
	dc := e.pub.Raw(t, key, msg)
	ok, err := dc.WaitContext(context.Background())
	require.NoError(t, err)
	require.True(t, ok)
	conn := amqpConn(t, e.amqpURL)
	dead := "pgfanout." + e.name + ".dead"
	testenv.Eventually(t, "the message for secret dead-lettered", time.Minute, func() bool { return depth(t, conn, dead) == 1 })
	d := deadLetters(t, conn, dead)[0]
	require.Contains(t, d.Headers["x-pgfanout-error"], "permission denied for table secret")
	require.Equal(t, []string{`(1,kept)`}, sourcetest.Dump(t, e.rep, "public", "secret"))

	rep := testenv.Connect(t, roleURL)
	requirePGDenied(t, rep,
		`SELECT * FROM secret`, `INSERT INTO secret VALUES (3, 'x')`, `UPDATE secret SET v = 'x'`, `DELETE FROM secret`,
		`TRUNCATE secret`, `TRUNCATE orders`, `DROP TABLE orders`,
		`ALTER TABLE orders ADD COLUMN x int`, `CREATE INDEX ON orders (customer)`)
	_, err = rep.Exec(context.Background(), `SELECT count(*) FROM pgfanout.row_versions`)
	require.NoError(t, err, "its own bookkeeping")
	code, body := p.get(t, "/readyz")
	require.Equal(t, 200, code, body)
	p.terminate(t)
}

// rabbitUsers creates, on a private node, the users docs/replicator.md documents (the
// publisher and replicas r1 and r2) with exactly its permissions, and returns their URLs.
func rabbitUsers(t *testing.T, mq *testenv.RabbitMQ, replicas ...string) map[string]string {
	t.Helper()
	block := docBlock(t, "rabbitmq-permissions")
	urls := map[string]string{}
	add := func(user string, perms []string) {
		mq.Ctl("add_user", user, user+"-pw")
		mq.Ctl(append([]string{"set_permissions", "-p", "/", user}, perms...)...)
		u, err := url.Parse(mq.URL())
		require.NoError(t, err)
		u.User = url.UserPassword(user, user+"-pw")
		urls[user] = u.String()
	}
	lines := regexp.MustCompile(`(?m)^rabbitmqctl set_permissions -p / (\S+) '([^']*)' '([^']*)' '([^']*)'$`).FindAllStringSubmatch(block, -1)
	require.Len(t, lines, 2, "a publisher line and a replica line")
	add(lines[0][1], lines[0][2:])
	for _, r := range replicas {
		perms := make([]string, 3)
		for i, p := range lines[1][2:] {
			perms[i] = strings.ReplaceAll(p, "<replica>", r)
		}
		add(strings.ReplaceAll(lines[1][1], "<replica>", r), perms)
	}
	return urls
}

// requireRefused runs op on a fresh channel of conn and requires RabbitMQ's ACCESS_REFUSED
// (403), which closes the channel; for an asynchronous method (publish) a synchronous one
// after it collects the refusal.
func requireRefused(t *testing.T, conn *amqp.Connection, what string, op func(ch *amqp.Channel) error) {
	t.Helper()
	ch, err := conn.Channel()
	require.NoError(t, err)
	defer ch.Close()
	err = op(ch)
	if err == nil {
		err = ch.Qos(1, 0, false)
	}
	var amqpErr *amqp.Error
	require.True(t, errors.As(err, &amqpErr), "%s: want ACCESS_REFUSED, got %v", what, err)
	require.Equal(t, amqp.AccessRefused, amqpErr.Code, "%s: %v", what, err)
}

func publish(exchange, key string) func(ch *amqp.Channel) error {
	return func(ch *amqp.Channel) error {
		return ch.PublishWithContext(context.Background(), exchange, key, false, false, amqp.Publishing{Body: []byte("x")})
	}
}

// With exactly the documented RabbitMQ permissions the pipeline runs and dead letters are
// written and replayed; everything else is refused: the publisher reads no queue and writes
// only the exchange, a replicator touches no other replica's queues and cannot publish to the
// exchange.
func TestRabbitMQUsersNeedOnlyTheDocumentedPermissions(t *testing.T) {
	t.Parallel()
	mq := testenv.StartRabbitMQ(t) // private: users are never changed on the shared broker
	urls := rabbitUsers(t, mq, "r1", "r2")
	pubURL, r1URL, r2URL := urls["pgfanout_publisher"], urls["pgfanout_r1"], urls["pgfanout_r2"]
	srcURL, src := pubSource(t, bins.publisher)
	repURL := testenv.NewDatabase(t)
	rep := testenv.Connect(t, repURL)
	sourcetest.Exec(t, rep, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	common := []string{"--exchange", "pgfanout", "--http-addr", "127.0.0.1:0"}
	for name, u := range map[string]string{"r1": r1URL, "r2": r2URL} {
		runCmd(t, bins.replicator, append([]string{"declare", "--replica-url", repURL, "--amqp-url", u, "--replica-name", name}, common...)...)
	}
	rpl := startProc(t, exec.Command(bins.replicator, append([]string{"--replica-url", repURL, "--amqp-url", r1URL,
		"--replica-name", "r1", "--max-attempts", "1"}, common...)...))
	pub := startPublisher(t, pubEnv{bin: bins.publisher, source: srcURL, amqpURL: pubURL, exchange: "pgfanout"})
	sourcetest.Exec(t, src, `INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g`, `UPDATE t SET v = 'u' WHERE id < 10`)
	want := tableDigest(t, src, "t")
	testenv.Eventually(t, "the replica to match the source", time.Minute, func() bool { return tableDigest(t, rep, "t") == want })

	admin := amqpConn(t, mq.URL())
	ch, err := admin.Channel()
	require.NoError(t, err)
	key, body := garbage("public", "t")
	require.NoError(t, ch.PublishWithContext(context.Background(), "pgfanout", key, false, false, amqp.Publishing{MessageId: "bad", Body: body}))
	testenv.Eventually(t, "the garbage dead-lettered by r1", 30*time.Second, func() bool { return depth(t, admin, "pgfanout.r1.dead") == 1 })
	out := runCmd(t, bins.replicator, "replay-dead", "--amqp-url", r1URL, "--replica-name", "r1")
	require.Contains(t, out, "moved 1 dead letters")
	testenv.Eventually(t, "the garbage dead-lettered again", 30*time.Second, func() bool {
		ds := deadLetters(t, admin, "pgfanout.r1.dead")
		return len(ds) == 1 && ds[0].Headers["x-pgfanout-replays"] == int32(1)
	})

	r1 := amqpConn(t, r1URL)
	for what, op := range map[string]func(ch *amqp.Channel) error{
		"r1 reads r2's queue":        func(ch *amqp.Channel) error { _, _, err := ch.Get("pgfanout.r2", false); return err },
		"r1 reads r2's dead letters": func(ch *amqp.Channel) error { _, _, err := ch.Get("pgfanout.r2.dead", false); return err },
		"r1 purges r2's queue":       func(ch *amqp.Channel) error { _, err := ch.QueuePurge("pgfanout.r2", false); return err },
		"r1 deletes r2's queue":      func(ch *amqp.Channel) error { _, err := ch.QueueDelete("pgfanout.r2", false, false, false); return err },
		"r1 binds r2's queue":        func(ch *amqp.Channel) error { return ch.QueueBind("pgfanout.r2", "#", "pgfanout", false, nil) },
		"r1 declares another queue": func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare("pgfanout.r3", true, false, false, false, nil)
			return err
		},
		"r1 publishes to the exchange": publish("pgfanout", "public.t"),
	} {
		requireRefused(t, r1, what, op)
	}
	p := amqpConn(t, pubURL)
	for what, op := range map[string]func(ch *amqp.Channel) error{
		"the publisher reads a queue": func(ch *amqp.Channel) error { _, _, err := ch.Get("pgfanout.r1", false); return err },
		"the publisher declares a queue": func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare("pgfanout.mine", true, false, false, false, nil)
			return err
		},
		"the publisher binds a queue":       func(ch *amqp.Channel) error { return ch.QueueBind("pgfanout.r1", "#", "pgfanout", false, nil) },
		"the publisher writes to a queue":   publish("", "pgfanout.r1"),
		"the publisher writes dead letters": publish("pgfanout.dead", "pgfanout.r1"),
		"the publisher deletes the dead queue": func(ch *amqp.Channel) error {
			_, err := ch.QueueDelete("pgfanout.r1.dead", false, false, false)
			return err
		},
		"the publisher deletes the dead exchange": func(ch *amqp.Channel) error { return ch.ExchangeDelete("pgfanout.dead", false, false) },
	} {
		requireRefused(t, p, what, op)
	}
	stopProc(t, rpl)
	pub.terminate()
}
