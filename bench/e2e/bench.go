package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/bench/internal/checksum"
	"github.com/pgfanout/pgfanout/bench/internal/workload"
)

// bench is one run of the benchmark: its servers, the two main pipelines and what was
// measured.
type bench struct {
	o       options
	srv     *servers
	env     environment
	began   time.Time
	elapsed time.Duration
	fan     *fanPipe
	nat     *natPipe
	res     results
	held    []*pgx.Conn // the workload connections of the run being measured
}

// The main table (the 5-column row table of bench/internal/workload, about 300 bytes of JSON
// a row) and the latency phase's table, whose replicas stamp each row when they write it.
var (
	benchRows  = workload.Rows{Name: pgx.Identifier{"public", "bench"}}
	latRows    = workload.Rows{Name: pgx.Identifier{"public", "bench_latency"}}
	rowColumns = []string{"id", "account", "amount", "note", "created_at"}
	noteBytes  = workload.NoteBytes(300)
)

func sourceDDL() []string { return []string{benchRows.Create(), latRows.Create()} }

func replicaDDL() []string {
	return append(sourceDDL(), `ALTER TABLE `+latRows.Name.Sanitize()+` ADD COLUMN t1 timestamptz DEFAULT clock_timestamp()`)
}

var (
	benchProbe = tableProbe(checksum.Spec{Table: benchRows.Name, Columns: rowColumns})
	latProbe   = tableProbe(checksum.Spec{Table: latRows.Name, Columns: rowColumns})
)

// systems are the two main pipelines in the order each phase runs them.
func (b *bench) systems() []system { return []system{b.fan, b.nat} }

func (b *bench) runPhases(ctx context.Context) error {
	mainPhases := b.o.has("changes") || b.o.has("latency") || b.o.has("fanout") || b.o.has("backlog")
	if mainPhases {
		if err := b.setupMain(ctx); err != nil {
			return err
		}
		err := b.mainPhases(ctx)
		if err == nil {
			err = b.footprintAt(ctx, "end of the run")
		}
		b.closeMain(ctx)
		if err != nil {
			return err
		}
	}
	if b.o.has("tpcb") {
		return b.phaseTPCB(ctx)
	}
	return nil
}

func (b *bench) mainPhases(ctx context.Context) error {
	steps := map[string]func(context.Context) error{
		"changes": b.phaseChanges, "latency": b.phaseLatency, "fanout": b.phaseFanout, "backlog": b.phaseBacklog,
	}
	for _, p := range b.o.phases {
		if step, ok := steps[p]; ok {
			fmt.Printf("\n== phase %s (%s since start)\n", p, time.Since(b.began).Round(time.Second))
			if err := step(ctx); err != nil {
				return fmt.Errorf("phase %s: %w", p, err)
			}
		}
	}
	return nil
}

// setupMain creates the main databases and starts both pipelines on them.
func (b *bench) setupMain(ctx context.Context) error {
	s := b.srv
	steps := []error{
		createDB(ctx, s.fanSrc, "src", "", sourceDDL()...),
		createDB(ctx, s.fanRep, "rep1", "", replicaDDL()...),
		createDB(ctx, s.natSrc, "src", "", append(sourceDDL(), markerDDL)...),
		createDB(ctx, s.natSub, "rep1", "", append(replicaDDL(), markerDDL)...),
	}
	for _, err := range steps {
		if err != nil {
			return err
		}
	}
	var err error
	tables := []string{benchRows.Name.Sanitize(), latRows.Name.Sanitize()}
	if b.fan, err = newFanPipe(ctx, s, "src", "rep1", "pgfanout", tables); err != nil {
		return err
	}
	b.nat, err = newNatPipe(ctx, s, "src", "rep1", []string{"bench", "bench_latency"})
	return err
}

func (b *bench) closeMain(ctx context.Context) {
	if b.fan != nil {
		b.fan.close(ctx)
		b.res.foot.stopped = append(b.res.foot.stopped, b.fan.stopped...)
	}
	if b.nat != nil {
		b.nat.close(ctx)
	}
}

// environment is what the report says about the machine and the software.
type environment struct {
	cpus                      int
	memory                    string
	postgres, rabbitmq, gover string
	date                      string
}

func describe(ctx context.Context, s *servers) (environment, error) {
	e := environment{cpus: runtime.NumCPU(), memory: memTotal(), gover: runtime.Version(),
		date: time.Now().UTC().Format("2006-01-02")}
	var err error
	e.postgres, e.rabbitmq, err = s.versions(ctx)
	return e, err
}

// memTotal is the machine's memory from /proc/meminfo, in GiB.
func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return "?"
			}
			return fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	return "?"
}
