package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/bench/internal/report"
	queries "github.com/pgfanout/pgfanout/sql"
)

// variant is one capture configuration of the source.
type variant struct {
	name    string
	title   string
	tracked bool
	notify  string // pgfanout.settings.notify when tracked
	drain   bool   // a consumer drains the change log during the run
}

func allVariants() []variant {
	return []variant{
		{name: "untracked", title: "no capture"},
		{name: "off", title: "tracked, notify=off, no consumer", tracked: true, notify: "off"},
		{name: "wakeup", title: "tracked, notify=wakeup, no consumer (idle lock held: every commit notifies)", tracked: true, notify: "wakeup"},
		{name: "row", title: "tracked, notify=row, no consumer", tracked: true, notify: "row"},
		{name: "off+drain", title: "tracked, notify=off, draining consumer (polls)", tracked: true, notify: "off", drain: true},
		{name: "wakeup+drain", title: "tracked, notify=wakeup, draining consumer", tracked: true, notify: "wakeup", drain: true},
		{name: "row+drain", title: "tracked, notify=row, draining consumer", tracked: true, notify: "row", drain: true},
	}
}

func variantNames() string {
	names := make([]string, 0, 7)
	for _, v := range allVariants() {
		names = append(names, v.name)
	}
	return strings.Join(names, ",")
}

func selectVariants(o options) ([]variant, error) {
	all := allVariants()
	if o.variants == "" {
		return all, nil
	}
	out := []variant{all[0]} // ratios need the untracked baseline
	for _, name := range strings.Split(o.variants, ",") {
		name = strings.TrimSpace(name)
		if name == "untracked" {
			continue
		}
		found := false
		for _, v := range all {
			if v.name == name {
				out, found = append(out, v), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown variant %q (want %s)", name, variantNames())
		}
	}
	return out, nil
}

// cell is the outcome of one workload under one variant.
type cell struct {
	rates    []float64 // statements per second, one per round (index = round)
	notifies int64     // notifications the consumer received (last round)
	left     int64     // changes still in the log when the clients stopped (last round)
}

func (c *cell) median() float64 { return report.Median(c.rates) }

type results struct {
	workloads []sourceWrite
	variants  []variant
	cells     map[string]*cell // workload name + "/" + variant name
}

func (r *results) at(w sourceWrite, v variant) *cell { return r.cells[w.name+"/"+v.name] }

// runMatrix measures every workload under every variant, rounds times. Variants of one
// workload run back to back so that each ratio compares runs close in time.
func runMatrix(ctx context.Context, e *env, o options) (*results, error) {
	ws, err := selectWrites(o)
	if err != nil {
		return nil, err
	}
	vs, err := selectVariants(o)
	if err != nil {
		return nil, err
	}
	res := &results{workloads: ws, variants: vs, cells: map[string]*cell{}}
	for _, w := range ws {
		for _, v := range vs {
			res.cells[w.name+"/"+v.name] = &cell{}
		}
	}
	for round := 1; round <= o.rounds; round++ {
		for _, w := range ws {
			if err := measureRound(ctx, e, o, res, w, round); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// measureRound runs every variant of one workload once. The untracked baseline runs first
// and last and counts as the mean of both, so slow drift of a shared machine's load
// affects baseline and variants alike.
func measureRound(ctx context.Context, e *env, o options, res *results, w sourceWrite, round int) error {
	order := append(append([]variant(nil), res.variants...), res.variants[0])
	for i, v := range order {
		c := res.at(w, v)
		if err := measure(ctx, e, o, w, v, c); err != nil {
			return fmt.Errorf("round %d, %s, %s: %w", round, w.title, v.name, err)
		}
		fmt.Printf("round %d  %-18s %-13s %10.0f statements/s\n", round, w.title, v.name, c.rates[len(c.rates)-1])
		if i == len(order)-1 {
			n := len(c.rates)
			c.rates = append(c.rates[:n-2], (c.rates[n-2]+c.rates[n-1])/2)
		}
	}
	return nil
}

func measure(ctx context.Context, e *env, o options, w sourceWrite, v variant, c *cell) error {
	conn, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if err := reset(ctx, conn, v); err != nil {
		return err
	}
	var d *drainer
	if v.drain {
		if d, err = startDrainer(ctx, e.dbURL, o); err != nil {
			return err
		}
	}
	rate, err := drive(ctx, e.dbURL, w, o)
	if d != nil {
		c.notifies, err = d.stop(err)
	}
	if err != nil {
		return err
	}
	c.rates = append(c.rates, rate)
	return conn.QueryRow(ctx, `SELECT changes FROM pgfanout.backlog`).Scan(&c.left)
}

// reset gives every run the same starting point: empty log and insert table, the variant's
// tracking and notify mode, the idle lock held unless a consumer drains, and
// no dirty buffers left over from the previous run.
func reset(ctx context.Context, conn *pgx.Conn, v variant) error {
	type step struct {
		sql  string
		args []any
	}
	steps := []step{
		{sql: `SELECT pgfanout.untrack('bench_rows'), pgfanout.untrack('bench_upd')`},
		{sql: `TRUNCATE bench_rows RESTART IDENTITY`},
		{sql: `TRUNCATE pgfanout.changes`},
		{sql: `VACUUM bench_upd`},
	}
	if !v.drain {
		// As an idle publisher that is never woken would: every commit that captured notifies.
		var term int64
		if err := conn.QueryRow(ctx, `SELECT term FROM pgfanout.leader`).Scan(&term); err != nil {
			return fmt.Errorf("reset (read the leader term): %w", err)
		}
		steps = append(steps, step{sql: queries.IdleRaise, args: []any{term}}, step{sql: queries.IdleTake})
	}
	if v.tracked {
		steps = append(steps,
			step{sql: `SELECT pgfanout.track('bench_rows'), pgfanout.track('bench_upd')`},
			step{sql: `SELECT pgfanout.set_notify($1)`, args: []any{v.notify}})
	}
	for _, s := range steps {
		if _, err := conn.Exec(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("reset (%s): %w", s.sql, err)
		}
	}
	// Best effort: without superuser or pg_checkpoint the run just starts with dirty buffers.
	_, _ = conn.Exec(ctx, `CHECKPOINT`)
	return nil
}
