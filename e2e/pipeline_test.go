package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

// pipelineBins builds both programs once per test binary.
var pipelineBins = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "pgfanout-e2e-bin-")
	if err != nil {
		return "", err
	}
	out, err := exec.Command("go", "build", "-o", dir+"/", "../publisher", "../replicator").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w: %s", err, out)
	}
	return dir, nil
})

// pipelineProc is a running program with its output captured for failure messages.
type pipelineProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startPipelineProc(t *testing.T, name string, args ...string) *pipelineProc {
	t.Helper()
	dir, err := pipelineBins()
	require.NoError(t, err)
	p := &pipelineProc{cmd: exec.Command(filepath.Join(dir, name), args...), out: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM and requires a clean exit within 10 s.
func (p *pipelineProc) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		p.done <- err
		require.NoError(t, err, "exit after SIGTERM:\n%s", p.out.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not exit within 10 s of SIGTERM", p.cmd.Path)
	}
}

func runPipelineCmd(t *testing.T, name string, args ...string) {
	t.Helper()
	dir, err := pipelineBins()
	require.NoError(t, err)
	out, err := exec.Command(filepath.Join(dir, name), args...).CombinedOutput()
	require.NoError(t, err, "%s %v:\n%s", name, args, out)
}

// tableDigest is a table's rows as sorted text, so equal tables give equal strings and
// keyless tables compare as multisets.
func tableDigest(t *testing.T, conn *pgx.Conn, table string) string {
	t.Helper()
	var s string
	q := "SELECT coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '') FROM " + table + " x"
	require.NoError(t, conn.QueryRow(context.Background(), q).Scan(&s))
	return s
}

// TestPipelineRowArrives drives the whole path from the outside: migrate → track →
// trigger → publisher → RabbitMQ → replicator → replica, then a clean SIGTERM of both.
func TestPipelineRowArrives(t *testing.T) {
	ctx := context.Background()
	srcURL, repURL := testenv.NewDatabase(t), testenv.NewDatabase(t)
	amqpURL := testenv.AMQPURL(t)
	exchange, replica := testenv.UniqueName("pgf_x"), testenv.UniqueName("pgf_r")
	testenv.CleanupAMQP(t, []string{exchange}, []string{"pgfanout." + replica, "pgfanout." + replica + ".dead"})

	ddl := `CREATE SCHEMA "Sales Dept"; CREATE TABLE "Sales Dept"."Order.Items" (id int PRIMARY KEY, name text, doc json, price numeric);
	        CREATE TABLE public.log (msg text)`
	src, rep := testenv.Connect(t, srcURL), testenv.Connect(t, repURL)
	for _, c := range []*pgx.Conn{src, rep} {
		_, err := c.Exec(ctx, ddl)
		require.NoError(t, err)
	}
	runPipelineCmd(t, "publisher", "migrate", "--source-url", srcURL)
	runPipelineCmd(t, "publisher", "migrate", "--source-url", srcURL) // idempotent
	_, err := src.Exec(ctx, `SELECT pgfanout.track('"Sales Dept"."Order.Items"'), pgfanout.track('public.log')`)
	require.NoError(t, err)
	// The publisher runs as a role holding exactly the grants README documents, and the
	// application writes as a role that owns nothing of pgfanout.
	pubRole, pubURL := testenv.NewRole(t, srcURL, "")
	appRole, appURL := testenv.NewRole(t, srcURL, "")
	for _, q := range []string{
		"GRANT USAGE ON SCHEMA pgfanout TO %[1]s",
		"GRANT SELECT, DELETE ON pgfanout.changes TO %[1]s",
		"GRANT SELECT, UPDATE (publisher_idle) ON pgfanout.settings TO %[1]s",
		"GRANT SELECT ON pgfanout.backlog TO %[1]s",
	} {
		_, err := src.Exec(ctx, fmt.Sprintf(q, pgx.Identifier{pubRole}.Sanitize()))
		require.NoError(t, err)
	}
	_, err = src.Exec(ctx, fmt.Sprintf(`GRANT USAGE ON SCHEMA "Sales Dept" TO %[1]s;
		GRANT SELECT, INSERT, UPDATE, DELETE ON "Sales Dept"."Order.Items", public.log TO %[1]s`, pgx.Identifier{appRole}.Sanitize()))
	require.NoError(t, err)
	app := testenv.Connect(t, appURL)
	common := []string{"--amqp-url", amqpURL, "--exchange", exchange}
	repArgs := append([]string{"--replica-url", repURL, "--replica-name", replica, "--http-addr", "127.0.0.1:0"}, common...)
	runPipelineCmd(t, "replicator", append([]string{"declare"}, repArgs...)...)

	pub := startPipelineProc(t, "publisher", append([]string{"--source-url", pubURL, "--http-addr", "127.0.0.1:0"}, common...)...)
	rpl := startPipelineProc(t, "replicator", repArgs...)

	_, err = app.Exec(ctx, `INSERT INTO "Sales Dept"."Order.Items" VALUES (1, 'O''Brien; DROP TABLE x', '{"a" : 1, "a": 2}', 12345678901234567890.123456789),
		(2, 'two', null, 'NaN'), (3, 'three', '[]', 0)`)
	require.NoError(t, err)
	_, err = app.Exec(ctx, `UPDATE "Sales Dept"."Order.Items" SET id = 30 WHERE id = 3; DELETE FROM "Sales Dept"."Order.Items" WHERE id = 2;
		INSERT INTO public.log VALUES ('dup'), ('dup'), ('single'); DELETE FROM public.log WHERE msg = 'single'`)
	require.NoError(t, err)

	for _, table := range []string{`"Sales Dept"."Order.Items"`, "public.log"} {
		want := tableDigest(t, src, table)
		require.Eventually(t, func() bool { return tableDigest(t, rep, table) == want }, 30*time.Second, 50*time.Millisecond,
			"%s never matched the source", table)
	}
	// Confirmed changes leave the change log.
	require.Eventually(t, func() bool {
		var n int64
		require.NoError(t, src.QueryRow(ctx, "SELECT changes FROM pgfanout.backlog").Scan(&n))
		return n == 0
	}, 30*time.Second, 50*time.Millisecond, "the change log never drained")
	pub.stop(t)
	rpl.stop(t)
}
