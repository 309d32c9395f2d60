package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/migrate"
	"github.com/pgfanout/pgfanout/internal/pgadmin"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// env is the benchmark's own database: created for the run, dropped by close.
type env struct {
	db      *pgadmin.Database
	dbURL   string
	machine string
}

const schemaSQL = `
CREATE TABLE bench_rows (
    id         bigserial     PRIMARY KEY,
    account    integer       NOT NULL,
    amount     numeric(12,2) NOT NULL,
    note       text          NOT NULL,
    created_at timestamptz   NOT NULL DEFAULT now()
);
CREATE TABLE bench_upd (LIKE bench_rows INCLUDING ALL);`

const preloadSQL = `INSERT INTO bench_upd (account, amount, note)
SELECT g % 1000, g * 0.01, 'preloaded row number ' || g FROM generate_series(1, $1::int) g`

func newEnv(ctx context.Context, o options) (*env, error) {
	db, err := pgadmin.Create(ctx, o.url, testenv.UniqueName("pgfanout_bench"))
	if err != nil {
		return nil, err
	}
	e := &env{db: db, dbURL: db.URL}
	if err := e.prepare(ctx, o); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *env) prepare(ctx context.Context, o options) error {
	if err := migrate.Up(ctx, e.dbURL, zerolog.Nop()); err != nil {
		return fmt.Errorf("apply capture migrations: %w", err)
	}
	conn, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		return fmt.Errorf("connect to benchmark database: %w", err)
	}
	defer conn.Close(ctx)
	for _, step := range []struct {
		sql  string
		args []any
	}{{schemaSQL, nil}, {preloadSQL, []any{o.preload}}, {"VACUUM ANALYZE bench_upd", nil}} {
		if _, err := conn.Exec(ctx, step.sql, step.args...); err != nil {
			return fmt.Errorf("create benchmark tables: %w", err)
		}
	}
	e.machine, err = describeMachine(ctx, conn)
	return err
}

// close drops the database even when the run was interrupted.
func (e *env) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.db.Drop(ctx); err != nil {
		fmt.Printf("bench/capture: %v\n", err)
	}
}

func describeMachine(ctx context.Context, conn *pgx.Conn) (string, error) {
	var version, syncCommit, fsync string
	err := conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('synchronous_commit'),
		current_setting('fsync')`).Scan(&version, &syncCommit, &fsync)
	if err != nil {
		return "", fmt.Errorf("read server settings: %w", err)
	}
	return fmt.Sprintf("%d CPUs (%s/%s, client and server on the same machine), PostgreSQL %s (synchronous_commit=%s, fsync=%s), %s",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, version, syncCommit, fsync, runtime.Version()), nil
}
