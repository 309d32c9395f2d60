package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/bench/internal/procstat"
	"github.com/pgfanout/pgfanout/internal/localserver"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func startPostgres(t *testing.T, settings ...string) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx, settings...)
	if errors.Is(err, localserver.ErrNoPostgres) {
		t.Skip(err)
	}
	require.NoError(t, err)
	t.Cleanup(pg.Close)
	return pg
}

func TestPrivatePostgres(t *testing.T) {
	t.Parallel() // a private server on a port of its own
	pg := startPostgres(t, append(Logical(), append(Durable(), "max_wal_senders=6")...)...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := testenv.Connect(t, pg.URL("postgres"))
	got, err := Settings(ctx, conn, "wal_level", "fsync", "synchronous_commit", "max_wal_senders")
	require.NoError(t, err)
	require.Equal(t, []string{"logical", "on", "on", "6"}, got, "a later setting of the same name wins")

	// ConnInfo reaches the same server: its backend is a child of the postmaster.
	var backend int
	require.NoError(t, testenv.Connect(t, pg.ConnInfo("postgres")).QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend))
	postmaster, err := pg.PostmasterPID()
	require.NoError(t, err)
	st, err := procstat.ReadStat("/proc", backend)
	require.NoError(t, err)
	require.Equal(t, postmaster, st.PPID)
}

func TestNewDatabase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := testenv.PGURL(t)
	db, err := NewDatabase(ctx, admin, "bench_cluster_test", `CREATE TABLE a (x int)`, `INSERT INTO a VALUES (1)`)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	require.True(t, strings.HasPrefix(db.Name, "bench_cluster_test_"))
	var x int
	require.NoError(t, testenv.Connect(t, db.URL).QueryRow(ctx, `SELECT x FROM a`).Scan(&x))
	require.Equal(t, 1, x)

	_, err = NewDatabase(ctx, admin, "bench_cluster_test", `CREATE TABLE a (x int)`, `no SQL`)
	require.ErrorContains(t, err, "no SQL")
	var left int
	require.NoError(t, testenv.Connect(t, admin).QueryRow(ctx,
		`SELECT count(*) FROM pg_database WHERE datname LIKE 'bench\_cluster\_test\_%' AND datname <> $1`, db.Name).Scan(&left))
	require.Zero(t, left, "a failed database is dropped")
}

func TestPrivateRabbitMQ(t *testing.T) {
	t.Parallel() // a private node on ports of its own
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := StartRabbitMQ(ctx)
	require.NoError(t, err)
	t.Cleanup(r.Close)
	conn, err := amqp.Dial(r.URL())
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	pid, err := r.PID()
	require.NoError(t, err)
	st, err := procstat.ReadStat("/proc", pid)
	require.NoError(t, err)
	require.Equal(t, "beam.smp", st.Comm)
}
