package e2e

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/proctest"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// pubEnv is what a publisher process is started with.
type pubEnv struct {
	bin      string
	source   string
	amqpURL  string
	exchange string
}

// newPubEnv builds the publisher and prepares a source (pubSource) and a unique exchange on
// the shared broker.
func newPubEnv(t *testing.T) (pubEnv, *pgx.Conn) {
	t.Helper()
	bin := bins.publisher
	src, conn := pubSource(t, bin)
	return pubEnv{bin: bin, source: src, amqpURL: testenv.AMQPURL(t), exchange: testenv.UniqueName("pgfanout_test_x")}, conn
}

// pubSource creates a database, installs the capture with `publisher migrate` and creates
// the tracked table public.t(id int primary key, v text).
func pubSource(t *testing.T, bin string) (string, *pgx.Conn) {
	t.Helper()
	url := testenv.NewDatabase(t)
	out, err := exec.Command(bin, "migrate", "--source-url", url).CombinedOutput()
	require.NoError(t, err, "publisher migrate: %s", out)
	conn := testenv.Connect(t, url)
	pubExec(t, conn, `CREATE TABLE t (id int PRIMARY KEY, v text)`, `SELECT pgfanout.track('t')`,
		// Versions may have gaps, so the tests count what was captured: every version written
		// to the change log is also recorded here (the publisher deletes the log itself).
		`CREATE TABLE captured (version bigint PRIMARY KEY)`,
		`CREATE FUNCTION record_captured() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN
		     -- Both element forms: a [version, key, row] triple, or a bare object at index i
		     -- whose version is the entry's + i.
		     INSERT INTO public.captured
		     SELECT CASE json_typeof(e) WHEN 'array' THEN (e ->> 0)::bigint ELSE NEW.version + i - 1 END
		     FROM json_array_elements(NEW.items) WITH ORDINALITY AS a(e, i);
		     RETURN NULL;
		 END $$`,
		`CREATE TRIGGER record_captured AFTER INSERT ON pgfanout.changes FOR EACH ROW EXECUTE FUNCTION record_captured()`)
	return url, conn
}

func pubExec(t *testing.T, conn *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		_, err := conn.Exec(context.Background(), s)
		require.NoError(t, err, s)
	}
}

// pubProc is a running publisher.
type pubProc struct {
	t *testing.T
	*proctest.Proc
}

// startPublisher runs a publisher on a random HTTP port; it is killed when the test ends.
func startPublisher(t *testing.T, env pubEnv, extra ...string) *pubProc {
	t.Helper()
	cmd := exec.Command(env.bin, append([]string{"--http-addr", "127.0.0.1:0", "--poll-interval", "200ms"}, extra...)...)
	cmd.Env = append(cmd.Environ(), "PGFANOUT_SOURCE_URL="+env.source, "PGFANOUT_AMQP_URL="+env.amqpURL,
		"PGFANOUT_EXCHANGE="+env.exchange)
	return &pubProc{t: t, Proc: startProc(t, cmd)}
}

// addr waits for the HTTP address the process logs at start-up.
func (p *pubProc) addr() string {
	p.t.Helper()
	a, err := p.Addr(20 * time.Second)
	require.NoError(p.t, err, "publisher output:\n%s", p.Output())
	return a
}

// terminate sends SIGTERM and requires exit status 0 within 10 s.
func (p *pubProc) terminate() { stopProc(p.t, p.Proc) }

// kill sends SIGKILL and waits for the process to be gone.
func (p *pubProc) kill() { p.Kill() }

// metric reads one unlabelled series from /metrics; ok is false if the process does not
// answer (it may just have died).
func (p *pubProc) metric(name string) (value string, ok bool) {
	resp, err := http.Get("http://" + p.addr() + "/metrics")
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, found := strings.CutPrefix(line, name+" "); found {
			return v, true
		}
	}
	return "", false
}

func (p *pubProc) isLeader() bool {
	v, _ := p.metric("pgfanout_publisher_is_leader")
	return v == "1"
}

func pubBacklog(t *testing.T, conn *pgx.Conn) int64 {
	var n int64
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT changes FROM pgfanout.backlog`).Scan(&n))
	return n
}

func pubIdle(t *testing.T, conn *pgx.Conn) bool { return sourcetest.PublisherIdle(t, conn) }

// pubVersions lists the captured versions in order.
func pubVersions(t *testing.T, conn *pgx.Conn) []int64 {
	rows, err := conn.Query(context.Background(), `SELECT version FROM captured ORDER BY version`)
	require.NoError(t, err)
	v, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	return v
}

// pubLastVersion is the number of changes captured so far (each has its own version).
func pubLastVersion(t *testing.T, conn *pgx.Conn) int64 {
	var n int64
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM captured`).Scan(&n))
	return n
}

// pubQueue declares a durable exchange and a queue bound to it, removed when the test ends.
func pubQueue(t *testing.T, amqpURL, exchange, key string, args amqp.Table) (*amqp.Channel, string) {
	t.Helper()
	conn, err := amqp.Dial(amqpURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	queue := testenv.UniqueName("pgfanout_test_q")
	require.NoError(t, ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil))
	_, err = ch.QueueDeclare(queue, true, false, false, false, args)
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(queue, key, exchange, false, nil))
	t.Cleanup(func() {
		_, _ = ch.QueueDelete(queue, false, false, false)
		_ = ch.ExchangeDelete(exchange, false, false)
	})
	return ch, queue
}
