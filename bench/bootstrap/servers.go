package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/sourcegraph/conc/pool"

	"github.com/pgfanout/pgfanout/bench/internal/cluster"
	"github.com/pgfanout/pgfanout/internal/localserver"
	"github.com/pgfanout/pgfanout/internal/proctest"
)

// servers are the bench's private servers and the programs it runs. One source cluster
// (wal_level=logical, which native needs; pgfanout does not, and pays its cost on writes)
// holds every run's source database, one target cluster every run's target database, so that
// all methods read and write the same way on the same servers.
type servers struct {
	src, dst   *cluster.Postgres
	rabbit     *cluster.RabbitMQ
	publisher  string // binaries
	replicator string
	pgDump     string
	psql       string
	binDir     string
}

func srcSettings() []string {
	return append(append(cluster.Logical(), cluster.Durable()...), "max_wal_senders=10", "max_replication_slots=10")
}

func dstSettings() []string {
	return append(cluster.Durable(), "max_logical_replication_workers=4", "max_worker_processes=16",
		"wal_retrieve_retry_interval=100ms")
}

func startServers(ctx context.Context) (*servers, error) {
	s := &servers{}
	dir, err := os.MkdirTemp("", "bench-bootstrap-")
	if err != nil {
		return nil, err
	}
	s.binDir = dir
	pgBin, err := localserver.PostgresBinDir()
	if err != nil {
		s.close()
		return nil, err
	}
	s.pgDump, s.psql = filepath.Join(pgBin, "pg_dump"), filepath.Join(pgBin, "psql")
	for _, b := range []string{s.pgDump, s.psql} {
		if _, err := os.Stat(b); err != nil {
			s.close()
			return nil, fmt.Errorf("the server's client programs: %w", err)
		}
	}
	p := pool.New().WithErrors().WithContext(ctx)
	p.Go(func(ctx context.Context) (err error) {
		s.src, err = cluster.StartPostgres(ctx, srcSettings()...)
		return
	})
	p.Go(func(ctx context.Context) (err error) {
		s.dst, err = cluster.StartPostgres(ctx, dstSettings()...)
		return
	})
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
	for _, pg := range []*cluster.Postgres{s.src, s.dst} {
		if pg != nil {
			pg.Close()
		}
	}
	if s.rabbit != nil {
		s.rabbit.Close()
	}
	_ = os.RemoveAll(s.binDir)
}

// Application names: the CPU accounting tells the writers' backends from the bench's own.
const (
	writerApp  = "bench-bootstrap-writer"
	controlApp = "bench-bootstrap-control"
)

func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	return connectAs(ctx, url, controlApp)
}

func connectAs(ctx context.Context, url, app string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["application_name"] = app
	return pgx.ConnectConfig(ctx, cfg)
}

// execAll runs statements one after the other on a connection of its own.
func execAll(ctx context.Context, url string, stmts ...string) error {
	conn, err := connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, st := range stmts {
		if _, err := conn.Exec(ctx, st); err != nil {
			return fmt.Errorf("%s: %w", st, err)
		}
	}
	return nil
}

// createDB creates database name on pg, from template when one is named (file by file: a
// big template copies faster than WAL-logged), then runs ddl in it.
func createDB(ctx context.Context, pg *cluster.Postgres, name, template string, ddl ...string) error {
	create := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		create += " TEMPLATE " + pgx.Identifier{template}.Sanitize() + " STRATEGY FILE_COPY"
	}
	if err := execAll(ctx, pg.URL("postgres"), create); err != nil {
		return err
	}
	return execAll(ctx, pg.URL(name), ddl...)
}

func dropDB(ctx context.Context, pg *cluster.Postgres, name string) error {
	return execAll(ctx, pg.URL("postgres"), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// checkpoint runs CHECKPOINT on both clusters, so that no run pays for the one before.
func (s *servers) checkpoint(ctx context.Context) error {
	for _, pg := range []*cluster.Postgres{s.src, s.dst} {
		if err := execAll(ctx, pg.URL("postgres"), "CHECKPOINT"); err != nil {
			return err
		}
	}
	return nil
}

// environment is what the report says about the machine and the software.
type environment struct {
	cpus                      int
	postgres, rabbitmq, gover string
	date                      string
}

func describe(ctx context.Context, s *servers) (environment, error) {
	e := environment{cpus: runtime.NumCPU(), gover: runtime.Version(), date: time.Now().UTC().Format("2006-01-02")}
	conn, err := connect(ctx, s.src.URL("postgres"))
	if err != nil {
		return e, err
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version')`).Scan(&e.postgres); err != nil {
		return e, err
	}
	c, err := amqp.DialConfig(s.rabbit.URL(), amqp.Config{Dial: amqp.DefaultDial(10 * time.Second)})
	if err != nil {
		return e, err
	}
	defer c.Close()
	e.rabbitmq = fmt.Sprint(c.Properties["version"])
	return e, nil
}
