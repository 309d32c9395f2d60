package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// Identifiers holding quotes, semicolons, dots, dollar quotes, the generator's own $f$ and
// Unicode are data all the way: capture, routing key, --tables pattern, the replica's
// statements. The source runs `publisher migrate`, the publisher and the replicator are the
// built binaries.
func TestHostileIdentifiersReplicateAsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema, table, keyless := `we"ird;$$ ß.☃`, `t.ab$f$ "x";DROP TABLE y;--`, `ke$$y.less 𝄞`
	cols := []string{`i"d;$$`, `col.umn ☃`, `$$;DROP`, `$b$`}
	q := func(parts ...string) string { return pgx.Identifier(parts).Sanitize() }
	ddl := []string{
		`CREATE SCHEMA ` + q(schema),
		`CREATE TABLE ` + q(schema, table) + ` (` + q(cols[0]) + ` int PRIMARY KEY, ` + q(cols[1]) + ` text, ` +
			q(cols[2]) + ` jsonb, ` + q(cols[3]) + ` numeric)`,
		`CREATE TABLE ` + q(schema, keyless) + ` (` + q(cols[1]) + ` text, ` + q(cols[3]) + ` int)`,
		`CREATE TABLE public.untouched (id int PRIMARY KEY)`,
	}
	srcURL, src := pubSource(t, bins.publisher)
	repURL := testenv.NewDatabase(t)
	rep := testenv.Connect(t, repURL)
	sourcetest.Exec(t, src, ddl...)
	sourcetest.Exec(t, rep, ddl...)
	for _, tb := range []string{q(schema, table), q(schema, keyless)} {
		_, err := src.Exec(ctx, `SELECT pgfanout.track($1)`, tb)
		require.NoError(t, err)
	}
	amqpURL, exchange, replica := testenv.AMQPURL(t), testenv.UniqueName("pgf_x"), testenv.UniqueName("pgf_r")
	testenv.CleanupAMQP(t, amqpURL, []string{exchange, exchange + ".dead"}, []string{"pgfanout." + replica, "pgfanout." + replica + ".dead"})
	// The pattern syntax quotes names that hold dots, quotes or spaces.
	pattern := `"` + strings.ReplaceAll(schema, `"`, `""`) + `".*`
	repArgs := []string{"--replica-url", repURL, "--amqp-url", amqpURL, "--exchange", exchange, "--replica-name", replica,
		"--http-addr", "127.0.0.1:0", "--tables", pattern}
	runCmd(t, bins.replicator, append([]string{"declare"}, repArgs...)...)
	rpl := startProc(t, exec.Command(bins.replicator, repArgs...))
	pub := startPublisher(t, pubEnv{bin: bins.publisher, source: srcURL, amqpURL: amqpURL, exchange: exchange})

	values := []string{`O'Brien; DROP TABLE x; --`, `$$ $f$ $b$ \ "quoted" 𝄞 ünï` + "\n\t", `'); DELETE FROM pgfanout.row_versions; --`}
	tq, kq := q(schema, table), q(schema, keyless)
	for i, v := range values {
		doc, err := json.Marshal(map[string]string{cols[0]: v, `"';$$`: v})
		require.NoError(t, err)
		_, err = src.Exec(ctx, `INSERT INTO `+tq+` VALUES ($1, $2, $3, $4)`, i, v, string(doc), float64(i)+0.5)
		require.NoError(t, err)
		_, err = src.Exec(ctx, `INSERT INTO `+kq+` VALUES ($1, $2), ($1, $2)`, v, i)
		require.NoError(t, err)
	}
	sourcetest.Exec(t, src,
		`UPDATE `+tq+` SET `+q(cols[1])+` = `+q(cols[1])+` || ';$$' WHERE `+q(cols[0])+` = 1`,
		`UPDATE `+tq+` SET `+q(cols[0])+` = 10 WHERE `+q(cols[0])+` = 2`,
		`DELETE FROM `+tq+` WHERE `+q(cols[0])+` = 0`,
		`DELETE FROM `+kq+` WHERE ctid = (SELECT min(ctid) FROM `+kq+`)`,
		`INSERT INTO public.untouched VALUES (1)`)
	for _, tb := range []string{tq, kq} {
		want := tableDigest(t, src, tb)
		testenv.Eventually(t, tb+" to match the source", time.Minute, func() bool { return tableDigest(t, rep, tb) == want })
	}
	require.Empty(t, tableDigest(t, rep, "public.untouched"), "outside --tables")
	var tables int
	require.NoError(t, rep.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`).Scan(&tables))
	require.Equal(t, 3+countBookkeeping(t, rep), tables, "nothing was created or dropped by a name")
	pub.terminate()
	stopProc(t, rpl)
}

func countBookkeeping(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'pgfanout'`).Scan(&n))
	return n
}

// forged is a message another AMQP client could publish to the exchange.
type forged struct {
	id     string
	key    string
	msg    amqp.Publishing
	reason string // what the dead letter's x-pgfanout-error must say
}

// forgeries are messages of the wrong shape, with headers that lie about the body, huge, a
// compression bomb, or of another content type; each to public.orders' routing key.
func forgeries(t *testing.T) []forged {
	t.Helper()
	good := []change.Change{{Version: 1 << 50, Op: change.Insert, Schema: "public", Table: "orders",
		Key: json.RawMessage(`{"id" : 99999}`), Row: json.RawMessage(`{"id":99999,"customer":"forged"}`), CommittedAt: time.Now()}}
	events := []change.Change{{Version: 1 << 50, Op: change.Insert, Schema: "public", Table: "events",
		Row: json.RawMessage(`{"kind":"forged","num":1}`), CommittedAt: time.Now()}}
	key, valid := sourcetest.Message(good)
	with := func(id string, f func(p *amqp.Publishing)) amqp.Publishing {
		p := valid
		p.Headers = amqp.Table{}
		for k, v := range valid.Headers {
			p.Headers[k] = v
		}
		p.MessageId = id
		f(&p)
		return p
	}
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zeros := make([]byte, 1<<20)
	for range 256 { // 256 MiB of zeros in a quarter MiB
		_, err := zw.Write(zeros)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	huge := append(append([]byte(`[`), bytes.Repeat([]byte(`"x",`), 4<<20)...), `"x"]`...) // 16 MiB
	_, eventsMsg := sourcetest.Message(events)
	return []forged{
		{"shape", key, with("shape", func(p *amqp.Publishing) { p.Body = []byte(`{"version":1,"op":"insert"}`) }), "decode body"},
		{"headers-lie", key, with("headers-lie", func(p *amqp.Publishing) { p.Body = eventsMsg.Body }), `the headers say "public"."orders"`},
		{"huge", key, with("huge", func(p *amqp.Publishing) { p.Body = huge }), "decode body"},
		{"bomb", key, with("bomb", func(p *amqp.Publishing) { p.ContentEncoding, p.Body = "gzip", bomb.Bytes() }), `content encoding "gzip"`},
		{"content-type", key, with("content-type", func(p *amqp.Publishing) { p.ContentType = "text/plain" }), `content type "text/plain"`},
		{"no-headers", key, with("no-headers", func(p *amqp.Publishing) { p.Headers = nil }), "header pgfanout-"},
		{"count-type", key, with("count-type", func(p *amqp.Publishing) { p.Headers[change.HeaderCount] = int32(1) }), "header pgfanout-count"},
	}
}

// Messages forged by another AMQP client are dead-lettered at once with their reason, and
// nothing else changes: the good stream goes on, no forged row reaches the replica.
func TestForgedMessagesAreDeadLetteredAndChangeNothing(t *testing.T) {
	t.Parallel()
	e := newRepEnv(t, "", "")
	p := e.start(t)
	e.workload(t, 20)
	e.publish(t)
	fs := forgeries(t)
	for _, f := range fs {
		dc := e.pub.Raw(t, f.key, f.msg)
		ok, err := dc.WaitContext(context.Background())
		require.NoError(t, err)
		require.True(t, ok, f.id)
	}
	e.workload(t, 20)
	e.publish(t)
	e.converged(t, time.Minute)

	conn := amqpConn(t, e.amqpURL)
	dead := "pgfanout." + e.name + ".dead"
	testenv.Eventually(t, "every forgery dead-lettered", time.Minute, func() bool { return depth(t, conn, dead) == len(fs) })
	reasons := map[string]string{}
	for _, d := range deadLetters(t, conn, dead) {
		reasons[d.MessageId], _ = d.Headers["x-pgfanout-error"].(string)
		require.Equal(t, "0", amqpString(d.Headers["x-pgfanout-attempts"]), "dead-lettered without an attempt: %s", d.MessageId)
	}
	for _, f := range fs {
		require.Contains(t, reasons[f.id], f.reason, f.id)
	}
	var forgedRows int
	require.NoError(t, e.rep.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM orders WHERE customer = 'forged') + (SELECT count(*) FROM events WHERE kind = 'forged')`).Scan(&forgedRows))
	require.Zero(t, forgedRows)
	code, body := p.get(t, "/readyz")
	require.Equal(t, 200, code, body)
	p.terminate(t)
}

func amqpString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
