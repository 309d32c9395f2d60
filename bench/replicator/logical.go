package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

// benchLogical measures native logical replication draining the same backlogs: a private
// instance (wal_level=logical needs a restart, which the shared server must never get) holds a
// source and a replica database; each phase's rows are written with the subscription disabled
// (1000 rows per transaction), then the subscription is enabled and timed until the replica
// matches. A marker row committed after the phase tells when it is through: the apply worker
// commits in source order, and polling a whole-table count would steal the CPU it needs.
func benchLogical(ctx context.Context, o *options) ([]result, error) {
	dir, err := os.MkdirTemp("", "bench-logical-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// fsync and synchronous_commit on, like the shared server the replicator is measured on.
	// The launcher restarts a subscription's apply worker no sooner than
	// wal_retrieve_retry_interval (5 s) after its last start: each re-enable would wait for it.
	pg, err := testenv.NewPostgres(dir, "wal_level=logical", "fsync=on", "synchronous_commit=on",
		"max_wal_senders=4", "max_replication_slots=4", "wal_retrieve_retry_interval=100ms")
	if err != nil {
		return nil, err
	}
	defer pg.Close()
	src, dst, err := setupLogical(ctx, pg.URL, o.rows)
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
		elapsed, err := catchUp(ctx, dst, phase, o.rows)
		if err != nil {
			return nil, err
		}
		results = append(results, result{system: "logical replication", phase: phase, rows: o.rows, elapsed: elapsed})
		fmt.Printf("logical replication %-6s %8.0f rows/s\n", phase, results[len(results)-1].rate())
	}
	return results, nil
}

func setupLogical(ctx context.Context, adminURL string, rows int) (*pgx.Conn, *pgx.Conn, error) {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, nil, err
	}
	defer admin.Close(ctx)
	for _, db := range []string{"src", "dst"} {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			return nil, nil, err
		}
	}
	u, _ := url.Parse(adminURL)
	src, err := connectDB(ctx, u, "src", `CREATE TABLE bench (id bigint PRIMARY KEY, payload text)`,
		`CREATE TABLE marker (phase text PRIMARY KEY)`,
		`CREATE PUBLICATION bench FOR TABLE bench, marker`,
		// A subscription in the same cluster cannot create its slot itself (it would wait for
		// its own transaction).
		`SELECT pg_create_logical_replication_slot('bench', 'pgoutput')`)
	if err != nil {
		return nil, nil, err
	}
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%s dbname=src user=postgres", u.Port())
	dst, err := connectDB(ctx, u, "dst", `CREATE TABLE bench (id bigint PRIMARY KEY, payload text)`,
		`CREATE TABLE marker (phase text PRIMARY KEY)`,
		`CREATE SUBSCRIPTION bench CONNECTION '`+conninfo+`' PUBLICATION bench
		 WITH (create_slot = false, slot_name = 'bench', enabled = false, copy_data = false)`)
	if err != nil {
		src.Close(ctx)
		return nil, nil, err
	}
	return src, dst, nil
}

func connectDB(ctx context.Context, base *url.URL, db string, stmts ...string) (*pgx.Conn, error) {
	u := *base
	u.Path = "/" + db
	conn, err := pgx.Connect(ctx, u.String())
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
	for lo := 1; lo <= o.rows; lo += 1000 {
		if _, err := src.Exec(ctx, sql, lo, min(lo+999, o.rows), max(o.rowBytes-41, 8)); err != nil {
			return fmt.Errorf("load %s: %w", phase, err)
		}
	}
	_, err := src.Exec(ctx, `INSERT INTO marker VALUES ($1)`, phase)
	return err
}

// catchUp enables the subscription and times it until the replica holds the phase's result.
func catchUp(ctx context.Context, dst *pgx.Conn, phase string, rows int) (time.Duration, error) {
	start := time.Now()
	if _, err := dst.Exec(ctx, `ALTER SUBSCRIPTION bench ENABLE`); err != nil {
		return 0, err
	}
	for deadline := start.Add(10 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		var done bool
		if err := dst.QueryRow(ctx, `SELECT EXISTS (SELECT FROM marker WHERE phase = $1)`, phase).Scan(&done); err != nil {
			return 0, err
		}
		if done {
			elapsed := time.Since(start)
			if _, err := dst.Exec(ctx, `ALTER SUBSCRIPTION bench DISABLE`); err != nil {
				return 0, err
			}
			return elapsed, verifyConn(ctx, dst, phase, rows)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("logical replication did not catch up with the %s phase", phase)
		}
	}
}
