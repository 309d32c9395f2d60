package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/bench/internal/cluster"
	"github.com/pgfanout/pgfanout/bench/internal/logicalrep"
	"github.com/pgfanout/pgfanout/bench/internal/workload"
)

// benchLogical measures native logical replication draining the same backlogs: a private
// instance (wal_level=logical needs a restart, which the shared server must never get) holds a
// source and a replica database; each phase's rows are written with the subscription disabled
// (1000 rows per transaction), then the subscription is enabled and timed until the replica
// matches. A marker row committed after the phase tells when it is through: the apply worker
// commits in source order, and polling a whole-table count would steal the CPU it needs.
func benchLogical(ctx context.Context, o *options) ([]result, error) {
	// fsync and synchronous_commit on, like the shared server the replicator is measured on.
	pg, err := cluster.StartPostgres(ctx, append(cluster.Logical(), cluster.Durable()...)...)
	if err != nil {
		return nil, err
	}
	defer pg.Close()
	src, dst, sub, err := setupLogical(ctx, pg)
	if err != nil {
		return nil, err
	}
	defer src.Close(ctx)
	defer dst.Close(ctx)
	var results []result
	for _, phase := range phases {
		if err := loadPhase(ctx, src, phase, o); err != nil {
			return nil, err
		}
		elapsed, err := catchUp(ctx, dst, sub, phase, o.rows)
		if err != nil {
			return nil, err
		}
		results = append(results, result{system: "logical replication", phase: phase, rows: o.rows, elapsed: elapsed})
		fmt.Printf("logical replication %-6s %8.0f rows/s\n", phase, results[len(results)-1].rate())
	}
	return results, nil
}

// setupLogical creates databases src and dst with the bench and marker tables and a disabled
// subscription of dst to src.
func setupLogical(ctx context.Context, pg *cluster.Postgres) (src, dst *pgx.Conn, sub *logicalrep.Subscription, err error) {
	admin, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return nil, nil, nil, err
	}
	defer admin.Close(ctx)
	conns := map[string]*pgx.Conn{}
	for _, db := range []string{"src", "dst"} {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			return nil, nil, nil, err
		}
		conn, err := connectDB(ctx, pg.URL(db), `CREATE TABLE bench (id bigint PRIMARY KEY, payload text)`,
			`CREATE TABLE marker (phase text PRIMARY KEY)`)
		if err != nil {
			for _, c := range conns {
				c.Close(ctx)
			}
			return nil, nil, nil, err
		}
		conns[db] = conn
	}
	src, dst = conns["src"], conns["dst"]
	sub, err = logicalrep.Create(ctx, src, dst, logicalrep.Config{Name: "bench",
		Tables: []pgx.Identifier{{"bench"}, {"marker"}}, ConnInfo: pg.ConnInfo("src")})
	if err != nil {
		src.Close(ctx)
		dst.Close(ctx)
		return nil, nil, nil, err
	}
	return src, dst, sub, nil
}

func connectDB(ctx context.Context, dbURL string, stmts ...string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			conn.Close(ctx)
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	return conn, nil
}

// loadPhase writes a phase's changes on the source, 1000 rows per transaction.
func loadPhase(ctx context.Context, src *pgx.Conn, phase string, o *options) error {
	sql := map[string]string{
		"insert": `INSERT INTO bench SELECT g, 'i' || substr(repeat(md5(g::text), 40), 1, $3::int) FROM generate_series($1::bigint, $2::bigint) g`,
		"update": `UPDATE bench SET payload = 'u' || substr(payload, 2) WHERE id BETWEEN $1 AND $2 AND $3::int > 0`,
		"delete": `DELETE FROM bench WHERE id BETWEEN $1 AND $2 AND $3::int > 0`,
	}[phase]
	if err := workload.InRanges(ctx, src, sql, o.rows, 1000, max(o.rowBytes-41, 8)); err != nil {
		return fmt.Errorf("load %s: %w", phase, err)
	}
	_, err := src.Exec(ctx, `INSERT INTO marker VALUES ($1)`, phase)
	return err
}

// catchUp enables the subscription and times it until the replica holds the phase's result.
func catchUp(ctx context.Context, dst *pgx.Conn, sub *logicalrep.Subscription, phase string, rows int) (time.Duration, error) {
	start := time.Now()
	if err := sub.Enable(ctx); err != nil {
		return 0, err
	}
	for deadline := start.Add(10 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		var done bool
		if err := dst.QueryRow(ctx, `SELECT EXISTS (SELECT FROM marker WHERE phase = $1)`, phase).Scan(&done); err != nil {
			return 0, err
		}
		if done {
			elapsed := time.Since(start)
			if err := sub.Disable(ctx); err != nil {
				return 0, err
			}
			return elapsed, verifyConn(ctx, dst, phase, rows)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("logical replication did not catch up with the %s phase", phase)
		}
	}
}
