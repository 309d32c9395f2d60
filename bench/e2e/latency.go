package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/pgfanout/pgfanout/bench/internal/promhist"
	"github.com/pgfanout/pgfanout/bench/internal/workload"
)

// latencyResult is the latency phase of one system, in seconds.
type latencyResult struct {
	run              runResult
	rows             int64
	p50, p99, max    float64 // from each row: replica's t1 minus the source's created_at
	hist             bool    // pgfanout: its own lag histogram's estimates
	histP50, histP99 float64
}

// phaseLatency writes single-row INSERT commits at a steady rate from writeClients clients
// into the latency table, whose replicas stamp each row with clock_timestamp() when they
// write it (t1): with the source's commit time in the row (now(), the transaction's start,
// a fraction of a millisecond before its commit on this box) and one clock for all servers,
// t1 − created_at is the row's latency from commit to replica, up to the replica's own commit.
func (b *bench) phaseLatency(ctx context.Context) error {
	dur := max(b.o.d(latencyFor1), minRunLength)
	for _, sys := range b.systems() {
		var before promhist.Histogram
		fan, isFan := sys.(*fanPipe)
		if isFan {
			var err error
			if before, err = fan.lagHistogram(); err != nil {
				return err
			}
		}
		write := func(ctx context.Context) (work, error) {
			r, err := workload.Clients{URL: sys.sourceURL(), N: writeClients, Duration: dur, Rate: latencyRate, Application: clientApp}.
				Run(ctx, workload.Statement{Title: "insert", SQL: latRows.Insert(), Args: func(r *rand.Rand) []any {
					return []any{r.IntN(1000), float64(r.IntN(100000)) / 100, workload.Note(r, noteBytes)}
				}})
			return work{rows: r.Statements, changes: r.Statements}, err
		}
		run, err := b.measure(ctx, sys, []probe{latProbe}, write)
		if err != nil {
			return fmt.Errorf("%s latency: %w", sys.name(), err)
		}
		res, err := replicaLatency(ctx, sys.replicaURLs()[0])
		if err != nil {
			return err
		}
		res.run = run
		if isFan {
			after, err := fan.lagHistogram()
			if err != nil {
				return err
			}
			d, err := after.Sub(before)
			if err != nil {
				return err
			}
			res.hist, res.histP50, res.histP99 = true, d.Quantile(0.5), d.Quantile(0.99)
		}
		if b.res.latency == nil {
			b.res.latency = map[string]latencyResult{}
		}
		b.res.latency[sys.name()] = res
		printRun(sys.name(), "latency", run)
		fmt.Printf("%-8s latency p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d rows\n",
			sys.name(), 1000*res.p50, 1000*res.p99, 1000*res.max, res.rows)
	}
	return nil
}

func replicaLatency(ctx context.Context, url string) (latencyResult, error) {
	conn, err := connect(ctx, url, controlApp)
	if err != nil {
		return latencyResult{}, err
	}
	defer conn.Close(ctx)
	var r latencyResult
	err = conn.QueryRow(ctx, `SELECT count(*), coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY d), 0),
		coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY d), 0), coalesce(max(d), 0)
		FROM (SELECT extract(epoch FROM t1 - created_at)::float8 AS d FROM `+latRows.Name.Sanitize()+`) s`).
		Scan(&r.rows, &r.p50, &r.p99, &r.max)
	if err != nil {
		return latencyResult{}, fmt.Errorf("replica latency: %w", err)
	}
	return r, nil
}
