package e2e

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/localserver"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// startCluster starts n private RabbitMQ nodes joined into one cluster, ended by PID when
// the test ends. The shared broker is never touched.
func startCluster(t *testing.T, n int) *localserver.RabbitCluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "pgfanout-e2e-cluster-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	start := time.Now()
	c, err := localserver.StartRabbitCluster(ctx, dir, n)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := c.Close(context.Background()); err != nil {
			t.Logf("stop the private cluster: %v", err)
		}
	})
	t.Logf("%d-node RabbitMQ cluster up in %v", n, time.Since(start).Round(100*time.Millisecond))
	return c
}

// ctl runs rabbitmqctl on node i of c and returns what it printed.
func ctl(t *testing.T, c *localserver.RabbitCluster, i int, args ...string) string {
	t.Helper()
	out, err := c.Nodes[i].CtlOutput(context.Background(), args...)
	require.NoError(t, err)
	return out
}

// quorumQueue is a quorum queue as `rabbitmqctl list_queues` shows it.
type quorumQueue struct {
	Name     string   `json:"name"`
	Leader   string   `json:"leader"`
	Members  []string `json:"members"`
	Online   []string `json:"online"`
	Messages int      `json:"messages"`
}

// queues lists the cluster's queues as node i sees them.
func queues(t *testing.T, c *localserver.RabbitCluster, i int) map[string]quorumQueue {
	t.Helper()
	var list []quorumQueue
	out := ctl(t, c, i, "list_queues", "--formatter", "json", "name", "leader", "members", "online", "messages")
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	m := map[string]quorumQueue{}
	for _, q := range list {
		m[q.Name] = q
	}
	return m
}

// nodeNames are the cluster's node names.
func nodeNames(c *localserver.RabbitCluster) []string {
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		names[i] = n.Node
	}
	return names
}

// nodeIndex is the index of the node named name.
func nodeIndex(t *testing.T, c *localserver.RabbitCluster, name string) int {
	t.Helper()
	i := slices.Index(nodeNames(c), name)
	require.GreaterOrEqual(t, i, 0, "node %s", name)
	return i
}

// connectionNode is the index of the node that holds the connection named name (the
// connection_name client property), as node i sees the cluster; -1 while there is none.
func connectionNode(t *testing.T, c *localserver.RabbitCluster, i int, name string) int {
	t.Helper()
	// RabbitMQ 3.10 has no "node" column: a connection's pid, <node.N.M.K>, names its node.
	for _, line := range strings.Split(ctl(t, c, i, "list_connections", "pid", "client_properties"), "\n") {
		pid, props, ok := strings.Cut(line, "\t")
		if !ok || !strings.Contains(props, `"`+name+`"`) {
			continue
		}
		for j, node := range nodeNames(c) {
			if strings.HasPrefix(pid, "<"+node+".") {
				return j
			}
		}
		require.Fail(t, "a connection pid of no cluster node", "%s", pid)
	}
	return -1
}

// allOnline waits until every member of each queue is online again, seen from node i.
func allOnline(t *testing.T, c *localserver.RabbitCluster, i int, names ...string) {
	t.Helper()
	testenv.Eventually(t, "every queue member to be back online", time.Minute, func() bool {
		qs := queues(t, c, i)
		for _, n := range names {
			if len(qs[n].Online) != len(c.Nodes) {
				return false
			}
		}
		return true
	})
}

// worstLatency runs loss on its own goroutine while it writes marker rows to the source one
// after another, each once the one before reached every replica, until 5 s after loss
// returned: the longest a marker took is how long the node loss held up the stream.
func worstLatency(t *testing.T, src *pgx.Conn, reps []*pgx.Conn, firstID int, loss func()) time.Duration {
	t.Helper()
	ctx := context.Background()
	done := make(chan struct{})
	go func() { defer close(done); loss() }()
	var worst time.Duration
	var doneAt time.Time
	for id := firstID; ; id-- {
		written := time.Now()
		_, err := src.Exec(ctx, `INSERT INTO orders VALUES ($1, 'marker', 0)`, id)
		require.NoError(t, err)
		testenv.Eventually(t, "a marker row on every replica", 2*time.Minute, func() bool {
			for _, rep := range reps {
				var n int
				require.NoError(t, rep.QueryRow(ctx, `SELECT count(*) FROM orders WHERE id = $1`, id).Scan(&n))
				if n == 0 {
					return false
				}
			}
			return true
		})
		worst = max(worst, time.Since(written))
		select {
		case <-done:
			if doneAt.IsZero() {
				doneAt = time.Now()
			}
		default:
		}
		if !doneAt.IsZero() && time.Since(doneAt) > 5*time.Second {
			return worst
		}
	}
}
