package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// TestClusterNodeLossesLoseNothing runs the pipeline against a private 3-node RabbitMQ
// cluster under a steady workload, kills the node the publisher is connected to, brings it
// back, then stops another node gracefully: both replicas end equal to the source, nothing
// is dead-lettered, and the stream is held up only for the failover, which it measures.
// The three ways of naming the nodes are used: PGFANOUT_AMQP_URL comma-separated (the
// publisher), --amqp-url repeated (replica 0) and --amqp-url comma-separated (replica 1).
func TestClusterNodeLossesLoseNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := startCluster(t, 3)
	urls := c.URLs()
	exchange := testenv.UniqueName("pgf_x")

	srcURL := testenv.NewDatabase(t)
	runCmd(t, bins.publisher, "migrate", "--source-url", srcURL)
	src := sourcetest.Connect(t, srcURL)
	sourcetest.Exec(t, src, faultDDL, `SELECT pgfanout.track('orders')`)

	amqpArgs := [][]string{
		{"--amqp-url", urls[0], "--amqp-url", urls[1], "--amqp-url", urls[2]},
		{"--amqp-url", strings.Join(urls, ",")},
	}
	var reps []*pgx.Conn
	var repArgs [][]string
	var queueNames []string
	for i, amqp := range amqpArgs {
		repURL, name := testenv.NewDatabase(t), testenv.UniqueName("pgf_r")
		rep := sourcetest.Connect(t, repURL)
		sourcetest.Exec(t, rep, faultDDL)
		args := append([]string{"--replica-url", repURL, "--exchange", exchange, "--replica-name", name, "--http-addr", "127.0.0.1:0"}, amqp...)
		runCmd(t, bins.replicator, append([]string{"declare"}, args...)...)
		reps, repArgs = append(reps, rep), append(repArgs, args)
		queueNames = append(queueNames, "pgfanout."+name, "pgfanout."+name+".dead")
		t.Logf("replica %d: queue pgfanout.%s", i, name)
	}
	// Quorum queues get RabbitMQ's default replication factor (3, or the cluster's size if
	// smaller): a member on every node here.
	for _, q := range queueNames {
		require.ElementsMatch(t, nodeNames(c), queues(t, c, 0)[q].Members, "members of %s", q)
	}

	pubCmd := exec.Command(bins.publisher, "--http-addr", "127.0.0.1:0", "--poll-interval", "200ms")
	pubCmd.Env = append(pubCmd.Environ(), "PGFANOUT_SOURCE_URL="+srcURL, "PGFANOUT_AMQP_URL="+c.URL(), "PGFANOUT_EXCHANGE="+exchange)
	pub := startProc(t, pubCmd)
	var rpls []*repProc
	for _, args := range repArgs {
		rpls = append(rpls, &repProc{startProc(t, exec.Command(bins.replicator, args...))})
	}
	w := (&faultRig{t: t, srcURL: srcURL}).write()
	// Nothing to lose unless the stream flows: markers through both replicas, for 5 s.
	base := worstLatency(t, src, reps, -1, func() {})
	t.Logf("no node lost: changes reach both replicas within %v", base.Round(time.Millisecond))

	// Loss 1: a crash of the node holding the publisher's connection.
	var first int
	testenv.Eventually(t, "the publisher's connection", 30*time.Second, func() bool {
		first = connectionNode(t, c, 0, "pgfanout-publisher")
		return first >= 0
	})
	crash := worstLatency(t, src, reps, -100000, func() { c.Nodes[first].Kill() })
	t.Logf("node %d (the publisher's) killed: changes held up at most %v", first, crash.Round(time.Millisecond))
	require.NoError(t, c.Nodes[first].Start(ctx))
	allOnline(t, c, first, queueNames...)

	// Loss 2: a graceful stop of another node, the leader of replica 0's queue if it can.
	second := nodeIndex(t, c, queues(t, c, 0)[queueNames[0]].Leader)
	if second == first {
		second = (first + 1) % len(c.Nodes)
	}
	stop := worstLatency(t, src, reps, -200000, func() {
		if err := c.Nodes[second].Stop(ctx); err != nil {
			t.Logf("stop node %d: %v", second, err)
		}
	})
	t.Logf("node %d (replica 0's queue leader) stopped: changes held up at most %v", second, stop.Round(time.Millisecond))
	require.NoError(t, c.Nodes[second].Start(ctx))
	allOnline(t, c, second, queueNames...)

	w.finish()
	require.NoError(t, w.err)
	t.Logf("%d statements written during the test", w.n.Load())
	want := ""
	for i, rep := range reps {
		testenv.Eventually(t, "the replica to equal the source", 2*time.Minute, func() bool {
			want = checksum(t, src)
			return checksum(t, rep) == want
		})
		t.Logf("replica %d equals the source: %s", i, want)
	}
	testenv.Eventually(t, "the change log to drain", 30*time.Second, func() bool { return pubBacklog(t, src) == 0 })
	// Acknowledged after the replica committed, so a queue may trail its replica a moment
	// (and hold redelivered duplicates, applied as no-ops).
	for _, q := range queueNames {
		testenv.Eventually(t, "queue "+q+" empty", 30*time.Second, func() bool { return queues(t, c, 0)[q].Messages == 0 })
	}
	stopProc(t, pub)
	for _, r := range rpls {
		stopProc(t, r.Proc)
	}
}
