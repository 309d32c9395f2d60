package e2e

import (
	"context"
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
