package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/status"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// statusRun runs a status command and returns its stdout and exit status.
func statusRun(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"status"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out) + stderr.String(), exit.ExitCode()
	}
	require.NoError(t, err, "%s status: %s", bin, stderr.String())
	return string(out), 0
}

// statusJSON runs a status command with --json and decodes the report.
func statusJSON(t *testing.T, bin string, args ...string) status.Report {
	t.Helper()
	out, code := statusRun(t, bin, append(args, "--json")...)
	require.Equal(t, 0, code, out)
	var r status.Report
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	return r
}

// Both status commands read the databases and the broker, not a running program: they show
// the pipeline as it runs, and still work once the programs are down.
func TestStatus(t *testing.T) {
	t.Parallel()
	env, src := newPubEnv(t)
	repURL := testenv.NewDatabase(t)
	rep := sourcetest.Connect(t, repURL)
	sourcetest.Exec(t, rep, `CREATE TABLE t (id int PRIMARY KEY, v text)`)
	name := testenv.UniqueName("pgf_r")
	queue := "pgfanout." + name
	testenv.CleanupAMQP(t, env.amqpURL, []string{env.exchange, env.exchange + ".dead"}, []string{queue, queue + ".dead"})
	sourcetest.Exec(t, src, `INSERT INTO t SELECT g, 'before' FROM generate_series(1, 100) g`)

	pubArgs := []string{"--source-url", env.source, "--amqp-url", env.amqpURL, "--replicas", name + "=" + repURL}
	repArgs := []string{"--replica-url", repURL, "--amqp-url", env.amqpURL, "--replica-name", name, "--source-url", env.source}

	// Nothing runs yet: no leader, 100 changes waiting, and no queue, which the report flags.
	out, code := statusRun(t, bins.replicator, repArgs...)
	require.Equal(t, 0, code, out)
	for _, want := range []string{"none has led yet", "100 changes in 1 entries", queue + " (NOT DECLARED)",
		"not started (no replicator ran yet)", "! " + name + ": queue " + queue + " does not exist"} {
		require.Contains(t, out, want)
	}

	runCmd(t, bins.replicator, append([]string{"declare", "--exchange", env.exchange, "--http-addr", ""}, repArgs...)...)
	pub := startPublisher(t, env)
	rpl := startProc(t, exec.Command(bins.replicator, append([]string{"--exchange", env.exchange, "--http-addr", "127.0.0.1:0"}, repArgs...)...))
	sourcetest.Exec(t, src, `INSERT INTO t SELECT g, 'while running' FROM generate_series(101, 150) g`)

	testenv.Eventually(t, "status to show the running pipeline, caught up", 60*time.Second, func() bool {
		r := statusJSON(t, bins.publisher, pubArgs...)
		rs := r.Replicas[0]
		return r.Publisher != nil && r.Publisher.Held && r.ChangeLog.Changes == 0 && rs.Queue != nil && rs.Queue.Declared &&
			rs.Queue.Consumers == 1 && rs.Queue.Messages == 0 && rs.Copy != nil && rs.Copy.Tables["done"] == 1
	})
	var n int
	testenv.Eventually(t, "the replica to hold every row", 30*time.Second, func() bool {
		require.NoError(t, rep.QueryRow(t.Context(), `SELECT count(*) FROM t`).Scan(&n))
		return n == 150
	})
	out, code = statusRun(t, bins.publisher, pubArgs...)
	require.Equal(t, 0, code, out)
	for _, want := range []string{"active: ", "term 1", "empty: every captured change is confirmed", "1/1 tables done", "nothing queued"} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "! ", "nothing needs attention:\n"+out)

	// The programs stop; status goes on reading the databases and the broker.
	stopProc(t, rpl)
	pub.terminate()
	sourcetest.Exec(t, src, `UPDATE t SET v = 'while down' WHERE id <= 10`)
	// RabbitMQ drops a closed connection's consumer a moment after the process exits.
	var r status.Report
	testenv.Eventually(t, "the stopped replicator's consumer gone from the queue", 30*time.Second, func() bool {
		r = statusJSON(t, bins.replicator, repArgs...)
		return r.Replicas[0].Queue.Consumers == 0
	})
	require.False(t, r.Publisher.Held)
	require.Equal(t, int64(10), r.ChangeLog.Changes)
	require.Contains(t, r.Replicas[0].Lag, "(the change log's oldest)")
	out, _ = statusRun(t, bins.publisher, pubArgs...)
	require.Contains(t, out, "NONE ACTIVE: the last leader")

	// A part that cannot be read: exit status 1, the cause and a hint, no password.
	u, err := url.Parse(env.amqpURL)
	require.NoError(t, err)
	u.User = url.UserPassword("nobody", "wrong-secret")
	out, code = statusRun(t, bins.publisher, "--source-url", env.source, "--amqp-url", u.String(), "--replicas", name)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "hint: RabbitMQ refused the credentials")
	require.Contains(t, out, "10 changes in 1 entries", "the source part is still shown")
	require.NotContains(t, out, "wrong-secret")
	out, code = statusRun(t, bins.publisher, "--amqp-url", env.amqpURL)
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "--source-url (or PGFANOUT_SOURCE_URL) is required")
}

// `publisher status --listen` serves the same figures to Prometheus.
func TestStatusListen(t *testing.T) {
	t.Parallel()
	env, src := newPubEnv(t)
	name := testenv.UniqueName("pgf_r")
	sourcetest.Exec(t, src, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	cmd := exec.Command(bins.publisher, "status", "--listen", "127.0.0.1:0", "--replicas", name)
	cmd.Env = append(cmd.Environ(), "PGFANOUT_SOURCE_URL="+env.source, "PGFANOUT_AMQP_URL="+env.amqpURL)
	p := startProc(t, cmd)
	addr, err := p.Addr(20 * time.Second)
	require.NoError(t, err, p.Output())
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	for _, want := range []string{"pgfanout_status_changelog_changes 2", `pgfanout_status_up{part="broker"} 1`,
		`pgfanout_status_up{part="source"} 1`, `pgfanout_status_queue_declared{replica="` + name + `"} 0`, "pgfanout_status_leader_active 0"} {
		require.Contains(t, string(body), want)
	}
	require.NoError(t, p.Terminate(10*time.Second), p.Output())
}
