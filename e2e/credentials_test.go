package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/proctest"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// Credentials revoked on the replica while the replicator runs (its role may no longer log
// in, its sessions ended): /readyz and /healthz answer 503 naming the refused login, the metric
// pgfanout_replicator_not_ready{cause="credentials"} is 1, nothing is dead-lettered; once the
// role may log in again the replicator recovers by itself, with no restart, and converges.
func TestReplicatorRecoversFromRevokedCredentials(t *testing.T) {
	t.Parallel()
	e := newRepEnv(t, "", "")
	role, roleURL := testenv.NewRole(t, e.repURL, "")
	replicaGrants(t, e.rep, e.repURL, role)
	e.repURL = roleURL
	p := e.start(t)
	e.workload(t, 30)
	e.publish(t)
	e.converged(t, time.Minute)

	ident := pgx.Identifier{role}.Sanitize()
	sourcetest.Exec(t, e.rep, `ALTER ROLE `+ident+` NOLOGIN`)
	endSessions(t, e.rep, role)
	e.workload(t, 30)
	e.publish(t) // held in the queue: the replicator cannot log in
	notReady := `pgfanout_replicator_not_ready{cause="credentials"}`
	testenv.Eventually(t, "readyz 503 for the refused login", time.Minute, func() bool {
		code, body := p.get(t, "/readyz")
		v, err := proctest.Counter(p.addr(t), notReady)
		require.NoError(t, err)
		return code == 503 && strings.Contains(body, "28000") && v == 1
	})
	code, body := p.get(t, "/healthz")
	require.Equal(t, 503, code, "the container's healthcheck shows the refused login")
	require.Contains(t, body, "28000")
	require.True(t, p.running())
	require.Zero(t, p.deadLettered(t))

	sourcetest.Exec(t, e.rep, `ALTER ROLE `+ident+` LOGIN`)
	e.converged(t, time.Minute)
	testenv.Eventually(t, "ready again", time.Minute, func() bool {
		code, _ := p.get(t, "/readyz")
		v, err := proctest.Counter(p.addr(t), notReady)
		require.NoError(t, err)
		return code == 200 && v == 0
	})
	code, _ = p.get(t, "/healthz")
	require.Equal(t, 200, code)
	require.Zero(t, p.deadLettered(t))
	p.terminate(t)
}

// endSessions terminates role's sessions and waits until they are gone: a backend exits a
// moment after pg_terminate_backend returns.
func endSessions(t *testing.T, admin *pgx.Conn, role string) {
	t.Helper()
	ctx := context.Background()
	testenv.Eventually(t, "the role's sessions gone", 30*time.Second, func() bool {
		var left int
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE usename = $1`, role).Scan(&left))
		if left == 0 {
			return true
		}
		_, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role)
		require.NoError(t, err)
		return false
	})
}

// The publisher's RabbitMQ password rotated on the broker (and its connections closed) while
// it runs: /readyz and /healthz answer 503 naming the refused login, the metric
// pgfanout_publisher_not_ready{cause="credentials"} is 1, the changes committed meanwhile
// wait in the change log; once the broker takes the process's password again it recovers by
// itself, with no restart, and publishes them.
func TestPublisherRecoversFromRotatedBrokerPassword(t *testing.T) {
	t.Parallel()
	mq := testenv.StartRabbitMQ(t)
	env, src := newPubEnv(t)
	mq.Ctl("add_user", "pub", "pw-1")
	mq.Ctl("set_permissions", "-p", "/", "pub", ".*", ".*", ".*")
	u, err := url.Parse(mq.URL())
	require.NoError(t, err)
	u.User = url.UserPassword("pub", "pw-1")
	env.amqpURL = u.String()
	p := startPublisher(t, env)
	get := func(path string) (int, string) { return httpGet(t, p.addr(), path) }
	pubExec(t, src, `INSERT INTO t SELECT g, 'a' FROM generate_series(1, 10) g`)
	testenv.Eventually(t, "the first changes published", time.Minute, func() bool { return pubBacklog(t, src) == 0 })

	mq.Ctl("change_password", "pub", "pw-2")
	mq.Ctl("close_all_connections", "password rotated")
	notReady := `pgfanout_publisher_not_ready{cause="credentials"}`
	testenv.Eventually(t, "readyz 503 for the refused login", time.Minute, func() bool {
		code, body := get("/readyz")
		v, err := proctest.Counter(p.addr(), notReady)
		require.NoError(t, err)
		return code == 503 && strings.Contains(body, "username or password not allowed") && v == 1
	})
	pubExec(t, src, `INSERT INTO t SELECT g, 'b' FROM generate_series(11, 20) g`)
	code, body := get("/healthz")
	require.Equal(t, 503, code, "the container's healthcheck shows the refused login")
	require.Contains(t, body, "username or password not allowed")
	require.NotContains(t, body, "pw-1")
	require.Equal(t, int64(10), pubBacklog(t, src), "the changes wait in the change log")

	mq.Ctl("change_password", "pub", "pw-1")
	testenv.Eventually(t, "the waiting changes published", time.Minute, func() bool { return pubBacklog(t, src) == 0 })
	testenv.Eventually(t, "ready again", time.Minute, func() bool {
		code, _ := get("/readyz")
		v, err := proctest.Counter(p.addr(), notReady)
		require.NoError(t, err)
		return code == 200 && v == 0
	})
	code, _ = get("/healthz")
	require.Equal(t, 200, code)
	require.NotContains(t, p.Output(), "pw-1", "no password in the log")
	p.terminate()
}
