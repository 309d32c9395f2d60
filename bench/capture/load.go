package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// workload is one kind of source write, issued in autocommit by every client.
type workload struct {
	name  string
	title string
	rows  int // rows changed per statement
	sql   string
	args  func(r *rand.Rand) []any
}

func allWorkloads(o options) []workload {
	return []workload{
		{
			name: "insert", title: "single-row INSERT", rows: 1,
			sql: `INSERT INTO bench_rows (account, amount, note) VALUES ($1, $2, $3)`,
			args: func(r *rand.Rand) []any {
				return []any{r.IntN(1000), "12.34", "single-row insert from the capture benchmark"}
			},
		},
		{
			name: "update", title: "single-row UPDATE", rows: 1,
			sql: `UPDATE bench_upd SET amount = amount + 1, note = $2 WHERE id = $1`,
			args: func(r *rand.Rand) []any {
				return []any{1 + r.IntN(o.preload), "updated by the capture benchmark"}
			},
		},
		{
			name: "bulk", title: fmt.Sprintf("%d-row INSERT", o.bulkRows), rows: o.bulkRows,
			sql: `INSERT INTO bench_rows (account, amount, note)
				SELECT g % 1000, g * 0.01, $2 || g FROM generate_series(1, $1::int) g`,
			args: func(*rand.Rand) []any { return []any{o.bulkRows, "bulk row number "} },
		},
	}
}

func workloadNames() string { return "insert,update,bulk" }

// selectWorkloads keeps the workloads named in the comma list (all when empty).
func selectWorkloads(o options) ([]workload, error) {
	all := allWorkloads(o)
	if o.workloads == "" {
		return all, nil
	}
	var out []workload
	for _, name := range strings.Split(o.workloads, ",") {
		found := false
		for _, w := range all {
			if w.name == strings.TrimSpace(name) {
				out, found = append(out, w), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown workload %q (want %s)", name, workloadNames())
		}
	}
	return out, nil
}

// drive runs w from o.clients connections for o.duration and returns statements per second.
// Connections are opened before the clock starts.
func drive(ctx context.Context, dbURL string, w workload, o options) (float64, error) {
	conns := make([]*pgx.Conn, 0, o.clients)
	defer func() {
		for _, c := range conns {
			_ = c.Close(context.Background())
		}
	}()
	for range o.clients {
		c, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return 0, fmt.Errorf("connect client: %w", err)
		}
		conns = append(conns, c)
	}
	var (
		ops   atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	start := time.Now()
	deadline := start.Add(o.duration)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := client(ctx, c, w, deadline, rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))), &ops); err != nil {
				errMu.Lock()
				first = cmpErr(first, err)
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		return 0, first
	}
	return float64(ops.Load()) / elapsed.Seconds(), nil
}

// client issues statements until the deadline; a statement started before it runs to its end,
// so no measurement ends in a cancelled query.
func client(ctx context.Context, c *pgx.Conn, w workload, deadline time.Time, r *rand.Rand, ops *atomic.Int64) error {
	for time.Now().Before(deadline) {
		if _, err := c.Exec(ctx, w.sql, w.args(r)...); err != nil {
			return fmt.Errorf("%s: %w", w.title, err)
		}
		ops.Add(1)
	}
	return nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
