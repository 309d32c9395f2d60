package main

import (
	"fmt"
	"strings"

	"github.com/pgfanout/pgfanout/bench/internal/report"
)

func (b *bench) tpcbReport(w *strings.Builder) {
	if len(b.res.tpcb) == 0 {
		return
	}
	heading(w, "TPC-B (pgbench)", fmt.Sprintf("pgbench's built-in script at scale %d for %d s per run (`-n`, `-j 2`), "+
		"first on an untracked copy of the tables on the same source cluster (the baseline), then replicated, each run on "+
		"a fresh copy of the same template on both sides. Ratio: replicated / untracked source TPS. Equal after: seconds "+
		"from pgbench's end until the replica's account, teller and branch balances and pgbench_history's count and "+
		"sum(delta) equal the source's. The 1 ms WAL flush is commit_delay=1000, commit_siblings=0 on the source. The "+
		"preloaded variant starts with %d rows in pgbench_history; its baseline is the first regime's.",
		b.o.n(tpcbScale1, 1), pgbenchSeconds(b.o), b.o.n(tpcbHistory1, minRows)))
	t := report.NewTable(report.Left("regime"), report.Right("pgfanout untracked tps"), report.Right("pgfanout replicated tps"),
		report.Right("ratio"), report.Right("native untracked tps"), report.Right("native replicated tps"), report.Right("ratio"),
		report.Right("replicated tps pgfanout / native"), report.Right("pgfanout equal after s"), report.Right("native equal after s"))
	for _, c := range b.res.tpcb {
		f, n := c.runs["pgfanout"], c.runs["native"]
		t.Add(c.cell.name, num(f.base.TPS), num(f.repl.TPS), ratio(f.repl.TPS, f.base.TPS), num(n.base.TPS), num(n.repl.TPS),
			ratio(n.repl.TPS, n.base.TPS), ratio(f.repl.TPS, n.repl.TPS), secs(f.run.lag.Seconds()), secs(n.run.lag.Seconds()))
	}
	w.WriteString(t.String())

	w.WriteString("\nMemory, deadlocks and failed transactions of the replicated runs:\n\n")
	m := report.NewTable(report.Left("regime"), report.Right("publisher peak RSS"), report.Right("replicator peak RSS"),
		report.Right("RabbitMQ peak RSS"), report.Right("walsender peak private RSS"), report.Right("apply worker peak private RSS"),
		report.Right("replicator deadlocks (40P01)"), report.Right("failed tx pgfanout / native"))
	for _, c := range b.res.tpcb {
		f, n := c.runs["pgfanout"], c.runs["native"]
		m.Add(c.cell.name, mib(procPeak(f.procs, "publisher")), mib(procPeak(f.procs, "replicator")),
			mib(f.run.cpu.byRole["pgfanout: RabbitMQ"].PeakRSS), mib(n.run.cpu.byRole["native: source: walsender"].PeakRSSAnon),
			mib(n.run.cpu.byRole["native: subscriber: apply worker"].PeakRSSAnon), fmt.Sprint(f.deadlocks),
			fmt.Sprintf("%d / %d", f.repl.Failed, n.repl.Failed))
	}
	w.WriteString(m.String())

	w.WriteString("\nCPU seconds per 1000 transactions of the replicated runs (pgbench and the convergence after it):\n\n")
	var cols []string
	byName := map[string]tpcbResult{}
	for _, c := range b.res.tpcb {
		cols = append(cols, c.cell.name)
		byName[c.cell.name] = c
	}
	w.WriteString(cpuTable(cols, func(col, sys string) (cpuCell, bool) {
		r, ok := byName[col].runs[sys]
		return cpuCell{usage: r.run.cpu, units: float64(r.repl.Transactions) / 1000}, ok && r.repl.Transactions > 0
	}))
}

// procPeak is the largest peak RSS of the stopped processes whose label starts with prefix.
func procPeak(procs []stoppedProc, prefix string) int64 {
	var v int64
	for _, p := range procs {
		if strings.HasPrefix(p.label, prefix) {
			v = max(v, p.hwm)
		}
	}
	return v
}

func pgbenchSeconds(o options) int {
	return max(1, int(max(o.d(tpcbFor1), minRunLength).Seconds()+0.5))
}
