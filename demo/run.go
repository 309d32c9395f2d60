package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/pgfanout/pgfanout/internal/localserver"
	"github.com/pgfanout/pgfanout/internal/pgadmin"
)

type config struct {
	duration time.Duration
	clients  int
	keep     bool
	schema   string
}

func demoTables() []string { return []string{"demo.customers", "demo.orders", "demo.events"} }

// env is everything the demo started; stop undoes it in reverse order.
type env struct {
	dir      string
	source   *localserver.Postgres
	replicas []*localserver.Postgres
	broker   *localserver.RabbitMQ
	procs    []*process
	bin      string // where publisher and replicator were built
}

func run(ctx context.Context, cfg config) (err error) {
	dir, err := os.MkdirTemp("", "pgfanout-demo-")
	if err != nil {
		return err
	}
	e := &env{dir: dir}
	defer func() {
		fmt.Println("stopping everything the demo started …")
		e.stop()
		if cfg.keep {
			fmt.Println("logs kept in", dir)
		} else {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := e.start(ctx, cfg); err != nil {
		return err
	}
	mon, err := newMonitor(ctx, e)
	if err != nil {
		return err
	}
	defer mon.close()
	stats := &workloadStats{}
	p := pool.New().WithErrors().WithContext(ctx).WithCancelOnError()
	wctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	p.Go(func(context.Context) error { return workload(wctx, e.source.URL("demo"), cfg.clients, stats) })
	p.Go(func(context.Context) error { return mon.progress(wctx, stats) })
	p.Go(func(context.Context) error { e.joinLate(wctx, cfg.duration/2); return nil })
	if err := p.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Printf("\nworkload done: %d changes in %s; waiting for the replicas to catch up …\n", stats.changes.Load(), cfg.duration)
	return mon.verify(ctx, e)
}

func (e *env) start(ctx context.Context, cfg config) error {
	bin := filepath.Join(e.dir, "bin")
	fmt.Println("building publisher and replicator …")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+"/", "./publisher", "./replicator")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	fmt.Println("starting a private source, two replicas and a RabbitMQ node …")
	var err error
	if e.source, err = startDB(ctx, filepath.Join(e.dir, "source"), cfg.schema); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	// The replicas start as empty databases: each replicator creates the tracked tables
	// and copies their rows from the source (--source-url) while it applies the stream.
	for i := 1; i <= 2; i++ {
		r, err := startDB(ctx, filepath.Join(e.dir, fmt.Sprintf("replica%d", i)), "")
		if err != nil {
			return fmt.Errorf("replica %d: %w", i, err)
		}
		e.replicas = append(e.replicas, r)
	}
	if e.broker, err = localserver.StartRabbitMQ(ctx, filepath.Join(e.dir, "rabbitmq")); err != nil {
		return fmt.Errorf("rabbitmq: %w", err)
	}
	return e.startPipeline(ctx, bin)
}

func (e *env) startPipeline(ctx context.Context, bin string) error {
	src := e.source.URL("demo")
	fmt.Println("migrating the source and tracking the demo tables …")
	if err := runOnce(ctx, bin+"/publisher", "migrate", "--source-url", src); err != nil {
		return err
	}
	if err := pgadmin.Exec(ctx, src, "SELECT pgfanout.track(t) FROM unnest($1::text[]) t", demoTables()); err != nil {
		return err
	}
	// replica1's queue exists before anything is published; replica2's does not (joinLate).
	if err := runOnce(ctx, bin+"/replicator", "declare", "--replica-url", e.replicas[0].URL("demo"),
		"--amqp-url", e.broker.URL(), "--replica-name", "replica1"); err != nil {
		return err
	}
	fmt.Println("starting the publisher and two replicators sharing replica1 (replica2 joins half-way) …")
	e.bin = bin
	e.spawn(bin+"/publisher", "publisher", "--source-url", src, "--amqp-url", e.broker.URL(), "--http-addr", "")
	for i := range 2 {
		e.spawnReplicator(fmt.Sprintf("replicator%d", i+1), 0)
	}
	return nil
}

// spawnReplicator starts a replicator of replica r (0-based). With --source-url it declares
// the replica's queue, creates the tracked tables the replica lacks and copies their rows
// while it applies the stream.
func (e *env) spawnReplicator(name string, r int) {
	e.spawn(e.bin+"/replicator", name, "--replica-url", e.replicas[r].URL("demo"), "--amqp-url", e.broker.URL(),
		"--replica-name", fmt.Sprintf("replica%d", r+1), "--source-url", e.source.URL("demo"), "--http-addr", "")
}

// joinLate starts replica2's replicator after the workload has run for `after`, as
// `docker compose --profile replica2 up -d` would on a live stack: its queue did not exist
// while the first changes were published, and it still ends equal to the source.
func (e *env) joinLate(ctx context.Context, after time.Duration) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(after): // a planned moment of the demo, not a wait for something
	}
	fmt.Printf("\nreplica2 joins the live source now: its replicator declares pgfanout.replica2, creates the tables and copies their rows …\n")
	e.spawnReplicator("replicator3", 1)
}

func startDB(ctx context.Context, dir, schema string) (*localserver.Postgres, error) {
	pg, err := localserver.StartPostgres(ctx, dir)
	if err != nil {
		return nil, err
	}
	db, err := pgadmin.Create(ctx, pg.URL("postgres"), "demo")
	if err != nil || schema == "" {
		return pg, err
	}
	return pg, pgadmin.Exec(ctx, db.URL, schema)
}

func (e *env) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := len(e.procs) - 1; i >= 0; i-- {
		e.procs[i].stop()
	}
	if e.broker != nil {
		_ = e.broker.Close(ctx) // also ends its epmd
	}
	for _, pg := range append(e.replicas, e.source) {
		if pg != nil {
			_ = pg.Stop(ctx)
		}
	}
}
