package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/bench/internal/cluster"
	"github.com/pgfanout/pgfanout/internal/migrate"
	"github.com/pgfanout/pgfanout/internal/pgadmin"
)

// env is the benchmark's own database: created for the run, dropped by close.
type env struct {
	db      *pgadmin.Database
	dbURL   string
	machine string
}

func newEnv(ctx context.Context, o options) (*env, error) {
	db, err := cluster.NewDatabase(ctx, o.url, "pgfanout_bench")
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
	ins, upd := insertTable(), updateTable()
	for _, step := range []struct {
		sql  string
		args []any
	}{
		{ins.Create(), nil},
		{`CREATE TABLE ` + upd.Name.Sanitize() + ` (LIKE ` + ins.Name.Sanitize() + ` INCLUDING ALL)`, nil},
		{upd.InsertSeries(), []any{1, o.preload, "preloaded row number "}},
		{`VACUUM ANALYZE ` + upd.Name.Sanitize(), nil},
	} {
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
	s, err := cluster.Settings(ctx, conn, "server_version", "synchronous_commit", "fsync")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d CPUs (%s/%s, client and server on the same machine), PostgreSQL %s (synchronous_commit=%s, fsync=%s), %s",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, s[0], s[1], s[2], runtime.Version()), nil
}
