package logicalrep

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/bench/internal/checksum"
	"github.com/pgfanout/pgfanout/bench/internal/cluster"
	"github.com/pgfanout/pgfanout/bench/internal/workload"
	"github.com/pgfanout/pgfanout/internal/localserver"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestSubscriptionDrainsTheBacklogWrittenWhileDisabled(t *testing.T) {
	t.Parallel() // a private server on a port of its own
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pg, err := cluster.StartPostgres(ctx, cluster.Logical()...)
	if errors.Is(err, localserver.ErrNoPostgres) {
		t.Skip(err)
	}
	require.NoError(t, err)
	t.Cleanup(pg.Close)

	admin := testenv.Connect(t, pg.URL("postgres"))
	rows := workload.Rows{Name: pgx.Identifier{"public", "items"}}
	conns := map[string]*pgx.Conn{}
	for _, db := range []string{"src", "dst"} {
		_, err := admin.Exec(ctx, "CREATE DATABASE "+db)
		require.NoError(t, err)
		conns[db] = testenv.Connect(t, pg.URL(db))
		_, err = conns[db].Exec(ctx, rows.Create())
		require.NoError(t, err)
	}
	src, dst := conns["src"], conns["dst"]
	require.NoError(t, rows.Load(ctx, src, 100, 100, 10), "before the slot: not replicated without CopyData")

	_, err = Create(ctx, src, dst, Config{})
	require.ErrorContains(t, err, "no tables")
	sub, err := Create(ctx, src, dst, Config{Name: "bench_sub", Tables: []pgx.Identifier{rows.Name}, ConnInfo: pg.ConnInfo("src")})
	require.NoError(t, err)
	_, err = src.Exec(ctx, `DELETE FROM items`)
	require.NoError(t, err)
	require.NoError(t, rows.Load(ctx, src, 1000, 100, workload.NoteBytes(300)))

	require.NoError(t, sub.Enable(ctx))
	spec := checksum.Spec{Table: rows.Name}
	want, err := checksum.Table(ctx, src, spec)
	require.NoError(t, err)
	require.Equal(t, int64(1000), want.Rows)
	testenv.Eventually(t, "the subscriber to catch up", time.Minute, func() bool {
		got, err := checksum.Table(ctx, dst, spec)
		require.NoError(t, err)
		return got == want
	})
	require.NoError(t, sub.Disable(ctx))
}

func TestDropRemovesSubscriptionSlotAndPublication(t *testing.T) {
	t.Parallel() // a private server on a port of its own
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pg, err := cluster.StartPostgres(ctx, cluster.Logical()...)
	if errors.Is(err, localserver.ErrNoPostgres) {
		t.Skip(err)
	}
	require.NoError(t, err)
	t.Cleanup(pg.Close)
	admin := testenv.Connect(t, pg.URL("postgres"))
	rows := workload.Rows{Name: pgx.Identifier{"public", "items"}}
	conns := map[string]*pgx.Conn{}
	for _, db := range []string{"src", "dst"} {
		_, err := admin.Exec(ctx, "CREATE DATABASE "+db)
		require.NoError(t, err)
		conns[db] = testenv.Connect(t, pg.URL(db))
		_, err = conns[db].Exec(ctx, rows.Create())
		require.NoError(t, err)
	}
	src, dst := conns["src"], conns["dst"]
	sub, err := Create(ctx, src, dst, Config{Name: "gone", Tables: []pgx.Identifier{rows.Name}, ConnInfo: pg.ConnInfo("src")})
	require.NoError(t, err)
	require.NoError(t, sub.Enable(ctx))
	// The apply worker streams from the slot before the drop: the slot is active.
	testenv.Eventually(t, "the slot in use", time.Minute, func() bool {
		var active bool
		require.NoError(t, src.QueryRow(ctx, `SELECT active FROM pg_replication_slots WHERE slot_name = 'gone'`).Scan(&active))
		return active
	})
	require.NoError(t, Drop(ctx, src, dst, "gone"))
	var subs, slots, pubs int
	require.NoError(t, dst.QueryRow(ctx, `SELECT count(*) FROM pg_subscription`).Scan(&subs))
	require.NoError(t, src.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_replication_slots), (SELECT count(*) FROM pg_publication)`).Scan(&slots, &pubs))
	require.Equal(t, []int{0, 0, 0}, []int{subs, slots, pubs})
	require.Error(t, Drop(ctx, src, dst, "gone"), "nothing left to drop")
}
