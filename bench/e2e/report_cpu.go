package main

import (
	"fmt"
	"strings"

	"github.com/pgfanout/pgfanout/bench/internal/report"
)

// cpuCell is one run's accounting and the units its CPU is divided by.
type cpuCell struct {
	usage cpuUsage
	units float64 // rows / 100k, or transactions / 1000
}

// cpuTable has a row per process role of each system and a column per run.
func cpuTable(cols []string, cell func(col, sys string) (cpuCell, bool)) string {
	head := []report.Column{report.Left("process")}
	for _, c := range cols {
		head = append(head, report.Right(c))
	}
	t := report.NewTable(head...)
	totals := map[string][]float64{}
	for _, sys := range systemNames {
		for _, role := range roles[sys] {
			label := sys + ": " + role
			cells, seen := []string{label}, false
			for _, c := range cols {
				x, ok := cell(c, sys)
				u, has := x.usage.byRole[label]
				seen = seen || has
				cells = append(cells, opt(ok && x.units > 0, fmt.Sprintf("%.2f", u.CPU.Seconds()/x.units)))
			}
			if seen {
				t.Add(cells...)
			}
		}
		cells := []string{"**" + sys + ": total**"}
		for _, c := range cols {
			x, ok := cell(c, sys)
			v := 0.0
			if ok && x.units > 0 {
				v = x.usage.total(sys).Seconds() / x.units
			}
			totals[sys] = append(totals[sys], v)
			cells = append(cells, opt(ok && x.units > 0, fmt.Sprintf("**%.2f**", v)))
		}
		t.Add(cells...)
	}
	cells := []string{"pgfanout / native, total"}
	for i := range cols {
		cells = append(cells, ratio(totals["pgfanout"][i], totals["native"][i]))
	}
	t.Add(cells...)
	return t.String()
}

func perRows(r runResult, ok bool) (cpuCell, bool) {
	return cpuCell{usage: r.cpu, units: float64(r.rows) / 100_000}, ok && r.rows > 0
}

func (b *bench) cpuReport(w *strings.Builder) {
	var latency resultSet
	for _, sys := range systemNames {
		if l, ok := b.res.latency[sys]; ok {
			latency.add("latency", sys, l.run)
		}
	}
	groups := []struct {
		title string
		rs    resultSet
	}{{"Row changes", b.res.changes}, {"Latency", latency}, {"Fan-out and scale-out", b.res.fanout},
		{"Backlog (load and drain)", b.res.backlog}}
	first := true
	for _, g := range groups {
		if len(g.rs.steps) == 0 {
			continue
		}
		if first {
			heading(w, "CPU seconds per 100k rows", "From /proc (user + system time, sampled every 250 ms) over each run, "+
				"from the first statement until the replica equals the source, by process. PostgreSQL's processes by "+
				"pg_stat_activity: client backends are the workload's sessions; other processes are the postmaster, "+
				"checkpointer, WAL writer, autovacuum and the like. The bench's own sessions (checksums, markers) are left out.")
			first = false
		}
		fmt.Fprintf(w, "%s:\n\n", g.title)
		rs := g.rs
		w.WriteString(cpuTable(rs.steps, func(col, sys string) (cpuCell, bool) { return perRows(rs.get(col, sys)) }))
		w.WriteString("\n")
	}
}

func (b *bench) footprintReport(w *strings.Builder) {
	foot := b.res.foot
	if len(foot.snaps) == 0 && len(foot.stopped) == 0 {
		return
	}
	heading(w, "Footprint", "Peak RSS of each pgfanout program (VmHWM, when it stopped); PostgreSQL backends' peak "+
		"private memory (RssAnon, sampled; their RSS would count the shared buffers they touched); sizes with indexes and "+
		"TOAST (pg_total_relation_size) of the replica's bookkeeping (the tables in schema pgfanout) and of the main table.")
	t := report.NewTable(report.Left("what"), report.Right("pgfanout"), report.Right("native"))
	for _, p := range foot.stopped {
		t.Add(p.label+", peak RSS", mib(p.hwm), "—")
	}
	dl := 0
	for _, p := range foot.stopped {
		dl += p.deadlocks
	}
	t.Add("deadlocks (SQLSTATE 40P01) in the replicators' logs", fmt.Sprint(dl), "—")
	peak := b.mainPeaks()
	t.Add("RabbitMQ node, peak RSS (sampled)", mib(peak["pgfanout: RabbitMQ"]), "—")
	t.Add("source: publisher's backends / walsender, peak private RSS", mib(peak["pgfanout: source: publisher's backends"]),
		mib(peak["native: source: walsender"]))
	t.Add("replica: replicator's backends / apply worker, peak private RSS", mib(peak["pgfanout: replica: replicator's backends"]),
		mib(peak["native: subscriber: apply worker"]))
	for _, s := range foot.snaps {
		t.Add("replica bookkeeping, "+s.when, mib(s.fanBook), "none")
		t.Add("replica table "+benchRows.Name.Sanitize()+", "+s.when, mib(s.fanTable), mib(s.natTbl))
		t.Add("bookkeeping / table, "+s.when, ratio(float64(s.fanBook), float64(s.fanTable)), "")
	}
	w.WriteString(t.String())
}

// mainPeaks is, per role label, the largest sampled memory of the main phases' runs: RSS
// for the broker, private RSS for PostgreSQL's backends.
func (b *bench) mainPeaks() map[string]int64 {
	out := map[string]int64{}
	visit := func(r runResult) {
		for label, u := range r.cpu.byRole {
			v := u.PeakRSSAnon
			if strings.HasSuffix(label, "RabbitMQ") {
				v = u.PeakRSS
			}
			out[label] = max(out[label], v)
		}
	}
	for _, rs := range []resultSet{b.res.changes, b.res.fanout, b.res.backlog} {
		for _, bySys := range rs.runs {
			for _, r := range bySys {
				visit(r)
			}
		}
	}
	for _, l := range b.res.latency {
		visit(l.run)
	}
	return out
}
