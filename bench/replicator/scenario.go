package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/bench/internal/cluster"
	"github.com/pgfanout/pgfanout/internal/proctest"
	"github.com/pgfanout/pgfanout/internal/replicate"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

var phases = []string{"insert", "update", "delete"}

// benchReplicator runs the three phases with n processes of w workers on a fresh replica and
// queue.
func benchReplicator(ctx context.Context, o *options, bin string, n, w int) ([]result, error) {
	replica, err := cluster.NewDatabase(ctx, o.pgURL, "bench", `CREATE TABLE bench (id bigint PRIMARY KEY, payload text)`)
	if err != nil {
		return nil, err
	}
	defer func() { _ = replica.Drop(context.Background()) }()
	repURL := replica.URL
	cfg := replicate.Config{AMQPURL: o.amqpURL, Exchange: testenv.UniqueName("bench_x"), ReplicaName: testenv.UniqueName("bench_r")}
	if err := replicate.Declare(ctx, cfg, zerolog.Nop()); err != nil {
		return nil, err
	}
	defer deleteTopology(o.amqpURL, &cfg)
	args := append([]string{"--replica-url", repURL, "--amqp-url", o.amqpURL, "--exchange", cfg.Exchange,
		"--replica-name", cfg.ReplicaName, "--http-addr", "127.0.0.1:0", "--prefetch", fmt.Sprint(o.prefetch), "--workers", fmt.Sprint(w)}, o.replicatorArgs...)
	system := fmt.Sprintf("replicator: %d process%s × %d worker%s", n, plural(n, "es"), w, plural(w, "s"))
	var (
		version int64
		results []result
	)
	for _, phase := range phases {
		changes := phaseChanges(phase, o.rows, o.rowBytes, &version)
		if err := prefill(ctx, o.amqpURL, cfg.Exchange, changes, o.perMessage); err != nil {
			return nil, fmt.Errorf("prefill %s: %w", phase, err)
		}
		elapsed, err := drain(ctx, bin, args, n, o.rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", phase, err)
		}
		if err := verify(ctx, repURL, phase, o.rows); err != nil {
			return nil, err
		}
		results = append(results, result{system: system, phase: phase, rows: o.rows, elapsed: elapsed})
		fmt.Printf("%s %-6s %8.0f rows/s\n", system, phase, results[len(results)-1].rate())
	}
	return results, nil
}

// drain starts n processes and times them until they have applied rows changes together.
func drain(ctx context.Context, bin string, args []string, n, rows int) (time.Duration, error) {
	start := time.Now()
	var procs []*proctest.Proc
	defer func() {
		for _, p := range procs {
			_ = p.Terminate(15 * time.Second)
		}
	}()
	for i := 0; i < n; i++ {
		p, err := proctest.Start(bin, args...)
		if err != nil {
			return 0, err
		}
		procs = append(procs, p)
	}
	var addrs []string
	for _, p := range procs {
		a, err := p.Addr(10 * time.Second)
		if err != nil {
			return 0, fmt.Errorf("replicator did not start: %w\n%s", err, p.Output())
		}
		addrs = append(addrs, a)
	}
	for deadline := start.Add(10 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		total := 0.0
		for _, a := range addrs {
			v, err := proctest.Counter(a, "pgfanout_replicator_applied_changes_total")
			if err != nil {
				return 0, err
			}
			total += v
		}
		if total >= float64(rows) {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("applied %.0f of %d changes before giving up", total, rows)
		}
	}
}

// verify checks the replica after a phase (not timed).
func verify(ctx context.Context, dbURL, phase string, rows int) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return verifyConn(ctx, conn, phase, rows)
}

func verifyConn(ctx context.Context, conn *pgx.Conn, phase string, rows int) error {
	want := map[string]int{"insert": rows, "update": rows, "delete": 0}[phase]
	var got int
	q := map[string]string{
		"insert": `SELECT count(*) FROM bench WHERE payload LIKE 'i%'`,
		"update": `SELECT count(*) FROM bench WHERE payload LIKE 'u%'`,
		"delete": `SELECT count(*) FROM bench`,
	}[phase]
	if err := conn.QueryRow(ctx, q).Scan(&got); err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("after %s the replica has %d matching rows, want %d", phase, got, want)
	}
	return nil
}

func deleteTopology(amqpURL string, cfg *replicate.Config) {
	testenv.DeleteAMQP(amqpURL, []string{cfg.Exchange, cfg.DeadExchange()}, []string{cfg.Queue(), cfg.DeadQueue()})
}

func plural(n int, suffix string) string {
	if n == 1 {
		return ""
	}
	return suffix
}
