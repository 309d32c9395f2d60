package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/sourcegraph/conc/pool"

	"github.com/pgfanout/pgfanout/bench/internal/cluster"
	"github.com/pgfanout/pgfanout/bench/internal/pgbench"
	"github.com/pgfanout/pgfanout/internal/proctest"
)

// servers are the bench's private servers and the programs it runs: nothing here is shared
// with other users of the machine, so their CPU and memory can be told apart.
type servers struct {
	fanSrc, fanRep *cluster.Postgres // pgfanout: source (wal_level replica), replica
	natSrc, natSub *cluster.Postgres // native: source (wal_level logical), subscriber
	rabbit         *cluster.RabbitMQ
	publisher      string // binaries
	replicator     string
	pgbench        string
	binDir         string
}

// Settings of the private clusters. All flush like production (fsync, synchronous_commit).
// The native subscriber runs up to four subscriptions (fan-out and TPC-B beside the main one),
// and its launcher restarts an apply worker no sooner than wal_retrieve_retry_interval (5 s by
// default) after its last start: the backlog phase re-enables a subscription.
func fanSettings() []string { return cluster.Durable() }

func natSrcSettings() []string {
	return append(append(cluster.Logical(), cluster.Durable()...), "max_wal_senders=10", "max_replication_slots=10")
}

func natSubSettings() []string {
	return append(cluster.Durable(), "max_logical_replication_workers=8", "max_worker_processes=16",
		"wal_retrieve_retry_interval=100ms")
}

// startServers starts the four clusters and the broker and builds the programs, in parallel.
func startServers(ctx context.Context) (*servers, error) {
	s := &servers{}
	dir, err := os.MkdirTemp("", "bench-e2e-")
	if err != nil {
		return nil, err
	}
	s.binDir = dir
	if s.pgbench, err = pgbench.Bin(); err != nil {
		s.close()
		return nil, err
	}
	p := pool.New().WithErrors().WithContext(ctx)
	startPG := func(dst **cluster.Postgres, settings []string) {
		p.Go(func(ctx context.Context) (err error) { *dst, err = cluster.StartPostgres(ctx, settings...); return })
	}
	startPG(&s.fanSrc, fanSettings())
	startPG(&s.fanRep, fanSettings())
	startPG(&s.natSrc, natSrcSettings())
	startPG(&s.natSub, natSubSettings())
	p.Go(func(ctx context.Context) (err error) { s.rabbit, err = cluster.StartRabbitMQ(ctx); return })
	p.Go(func(context.Context) (err error) { s.publisher, err = proctest.Build(dir, "publisher"); return })
	p.Go(func(context.Context) (err error) { s.replicator, err = proctest.Build(dir, "replicator"); return })
	if err := p.Wait(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *servers) close() {
	for _, pg := range []*cluster.Postgres{s.fanSrc, s.fanRep, s.natSrc, s.natSub} {
		if pg != nil {
			pg.Close()
		}
	}
	if s.rabbit != nil {
		s.rabbit.Close()
	}
	_ = os.RemoveAll(s.binDir)
}

// versions names the PostgreSQL and RabbitMQ versions, for the report.
func (s *servers) versions(ctx context.Context) (pg, rabbit string, err error) {
	conn, err := pgx.Connect(ctx, s.fanSrc.URL("postgres"))
	if err != nil {
		return "", "", err
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version')`).Scan(&pg); err != nil {
		return "", "", err
	}
	c, err := amqp.DialConfig(s.rabbit.URL(), amqp.Config{Dial: amqp.DefaultDial(10 * time.Second)})
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	return pg, fmt.Sprint(c.Properties["version"]), nil
}

// createDB creates database name on pg, optionally from a template (copied file by file:
// faster than the WAL-logged default for a big template), then runs ddl in it.
func createDB(ctx context.Context, pg *cluster.Postgres, name, template string, ddl ...string) error {
	admin, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	create := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		create += " TEMPLATE " + pgx.Identifier{template}.Sanitize() + " STRATEGY FILE_COPY"
	}
	if _, err := admin.Exec(ctx, create); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return execAll(ctx, pg.URL(name), ddl...)
}

// dropDB drops database name on pg, ending its sessions.
func dropDB(ctx context.Context, pg *cluster.Postgres, name string) error {
	admin, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// execAll runs statements one after the other on a connection of its own.
func execAll(ctx context.Context, url string, stmts ...string) error {
	if len(stmts) == 0 {
		return nil
	}
	conn, err := connect(ctx, url, controlApp)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// Application names: the CPU accounting tells the workload's backends from the bench's own.
const (
	clientApp  = "bench-e2e-client"  // the workload's connections
	controlApp = "bench-e2e-control" // the bench's own: setup, markers, checksums, sampling
)

func connect(ctx context.Context, url, app string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = app
	return pgx.ConnectConfig(ctx, cfg)
}

// checkpoint runs CHECKPOINT on every cluster, so that no measured run pays for the dirty
// pages of the one before.
func (s *servers) checkpoint(ctx context.Context) error {
	for _, pg := range []*cluster.Postgres{s.fanSrc, s.fanRep, s.natSrc, s.natSub} {
		if err := execAll(ctx, pg.URL("postgres"), "CHECKPOINT"); err != nil {
			return err
		}
	}
	return nil
}
