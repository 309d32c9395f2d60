package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/pgfanout/pgfanout/bench/internal/report"
)

func section() report.Section {
	return report.Section{Name: "bench/e2e", Heading: "## End to end: pgfanout beside native logical replication"}
}

var systemNames = []string{"pgfanout", "native"}

// report is the Markdown of the run, for stdout and BENCHMARKS.md.
func (b *bench) report() string {
	var w strings.Builder
	e := b.env
	fmt.Fprintf(&w, "Measured %s with `BENCH_SCALE=%g go run ./bench/e2e -phases %s` in %s: %d CPUs, %s of memory, "+
		"PostgreSQL %s, RabbitMQ %s, %s. Every server is private to the run and on this machine (four PostgreSQL "+
		"clusters with fsync and synchronous_commit on; native's source has wal_level=logical, pgfanout's the default), "+
		"with default settings of the publisher, the replicators and the subscriptions. For each phase pgfanout runs "+
		"first, then native. A run ends when the replica equals the source by checksum; ratios are pgfanout / native.\n",
		e.date, b.o.scale, strings.Join(b.o.phases, ","), b.elapsed.Round(1e9), e.cpus, e.memory, e.postgres, e.rabbitmq, e.gover)
	parts := []func(*strings.Builder){b.changesReport, b.latencyReport, b.fanoutReport, b.backlogReport, b.cpuReport,
		b.footprintReport, b.tpcbReport}
	for _, part := range parts {
		part(&w)
	}
	return w.String()
}

func heading(w *strings.Builder, title, text string) {
	fmt.Fprintf(w, "\n### %s\n\n", title)
	if text != "" {
		w.WriteString(text + "\n\n")
	}
}

func (b *bench) changesReport(w *strings.Builder) {
	rs := b.res.changes
	if len(rs.steps) == 0 {
		return
	}
	heading(w, "Row changes", "Source rate: rows written per second of the writes. End to end: rows per second from the first "+
		"statement until the replica equals the source. Lag: from the last commit until then. Load and deletes in 1000-row "+
		"transactions, updates and key moves (primary-key updates) single-row from 4 clients.")
	t := report.NewTable(report.Left("step"), report.Right("rows"), report.Right("pgfanout source rows/s"), report.Right("native source rows/s"),
		report.Right("ratio"), report.Right("pgfanout end to end rows/s"), report.Right("native end to end rows/s"), report.Right("ratio"),
		report.Right("pgfanout lag s"), report.Right("native lag s"))
	for _, step := range rs.steps {
		f, _ := rs.get(step, "pgfanout")
		n, _ := rs.get(step, "native")
		t.Add(step, fmt.Sprint(f.rows), num(f.sourceRate()), num(n.sourceRate()), ratio(f.sourceRate(), n.sourceRate()),
			num(f.e2eRate()), num(n.e2eRate()), ratio(f.e2eRate(), n.e2eRate()), secs(f.lag.Seconds()), secs(n.lag.Seconds()))
	}
	w.WriteString(t.String())
}

func (b *bench) latencyReport(w *strings.Builder) {
	f, okF := b.res.latency["pgfanout"]
	n, okN := b.res.latency["native"]
	if !okF || !okN {
		return
	}
	heading(w, fmt.Sprintf("Latency at a steady %d changes/s", latencyRate), "Single-row INSERT commits from 4 clients; "+
		"per row, the replica's `t1 DEFAULT clock_timestamp()` minus the source's `created_at` (now(), the transaction's "+
		"start), so up to the replica's write, before its commit. pgfanout's own estimate interpolates in the buckets of its "+
		"`pgfanout_replicator_lag_seconds` histogram (bounds 5 ms × 2.5ⁿ) over the phase.")
	t := report.NewTable(report.Left("measure"), report.Right("pgfanout"), report.Right("native"), report.Right("ratio"))
	rowsRate := func(l latencyResult) float64 { return l.run.sourceRate() }
	t.Add("source rate, rows/s", num(rowsRate(f)), num(rowsRate(n)), ratio(rowsRate(f), rowsRate(n)))
	t.Add("rows", fmt.Sprint(f.rows), fmt.Sprint(n.rows), "")
	for _, m := range []struct {
		name string
		f, n float64
	}{{"p50 ms", f.p50, n.p50}, {"p99 ms", f.p99, n.p99}, {"max ms", f.max, n.max}} {
		t.Add(m.name, ms(m.f), ms(m.n), ratio(m.f, m.n))
	}
	if f.hist {
		t.Add("p50 ms, pgfanout's histogram", ms(f.histP50), "—", "")
		t.Add("p99 ms, pgfanout's histogram", ms(f.histP99), "—", "")
	}
	w.WriteString(t.String())
}

func (b *bench) fanoutReport(w *strings.Builder) {
	rs := b.res.fanout
	if len(rs.steps) == 0 {
		return
	}
	heading(w, "Fan-out and scale-out", "The load (1000-row transactions) with one replica, with three (pgfanout: three "+
		"replica databases, each with its replicator; native: three subscriptions, each with its slot and walsender), and "+
		"(pgfanout) with three replicator processes sharing one replica. End-to-end rate until every replica equals the "+
		"source. Target: three replicas at ≥ 0.8× the rate of one.")
	t := report.NewTable(report.Left("configuration"), report.Right("pgfanout rows/s"), report.Right("native rows/s"),
		report.Right("ratio"), report.Right("pgfanout lag s"), report.Right("native lag s"))
	for _, step := range rs.steps {
		f, okF := rs.get(step, "pgfanout")
		n, okN := rs.get(step, "native")
		t.Add(step, opt(okF, num(f.e2eRate())), opt(okN, num(n.e2eRate())), opt(okF && okN, ratio(f.e2eRate(), n.e2eRate())),
			opt(okF, secs(f.lag.Seconds())), opt(okN, secs(n.lag.Seconds())))
	}
	for _, c := range []struct{ name, step string }{{"3 replicas / 1 replica", "3 replicas"}, {"3 processes / 1 process", "3 replicator processes"}} {
		var cells [2]string
		for i, sys := range systemNames {
			one, ok1 := rs.get("1 replica", sys)
			x, ok3 := rs.get(c.step, sys)
			cells[i] = opt(ok1 && ok3, ratio(x.e2eRate(), one.e2eRate()))
		}
		t.Add(c.name, cells[0], cells[1])
	}
	w.WriteString(t.String())
}

func (b *bench) backlogReport(w *strings.Builder) {
	f, okF := b.res.backlog.get("load, then drain", "pgfanout")
	n, okN := b.res.backlog.get("load, then drain", "native")
	if !okF || !okN {
		return
	}
	heading(w, "Backlog drain", "The load written while the replica does not apply (pgfanout: its replicator stopped, the "+
		"publisher still publishing; native: the subscription disabled), then the replicator started / the subscription "+
		"enabled. pgfanout's publisher first empties the change log into the queue, so its drain is the replicator's alone; "+
		"native's walsender decodes the slot's WAL during the drain.")
	t := report.NewTable(report.Left("measure"), report.Right("pgfanout"), report.Right("native"), report.Right("ratio"))
	t.Add("rows", fmt.Sprint(f.rows), fmt.Sprint(n.rows), "")
	t.Add("source rate while paused, rows/s", num(f.sourceRate()), num(n.sourceRate()), ratio(f.sourceRate(), n.sourceRate()))
	t.Add("change log emptied into the queue after, s", secs(f.publish.Seconds()), "—", "")
	t.Add("drain, s", secs(f.drain.Seconds()), secs(n.drain.Seconds()), ratio(f.drain.Seconds(), n.drain.Seconds()))
	fr, nr := rate(f.rows, f.drain), rate(n.rows, n.drain)
	t.Add("drain rate, rows/s", num(fr), num(nr), ratio(fr, nr))
	w.WriteString(t.String())
}

func num(v float64) string {
	if v == 0 || math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.0f", v)
}

func secs(v float64) string { return fmt.Sprintf("%.2f", v) }

func ms(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.1f", 1000*v)
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func opt(ok bool, s string) string {
	if !ok {
		return "—"
	}
	return s
}

func mib(bytes int64) string {
	if bytes <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20))
}
