package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/pgfanout/pgfanout/bench/internal/report"
)

func section() report.Section {
	return report.Section{Name: "bench/bootstrap", Heading: "## Bootstrap: a live table copied into an empty replica"}
}

var methodTitles = map[string]string{
	methodPgfanout: "pgfanout (replicator --source-url)",
	methodDump:     "pg_dump --data-only \\| psql",
	methodNative:   "native (copy_data = true)",
}

func (b *bench) get(method, load string) (result, bool) {
	for _, r := range b.results {
		if r.method == method && r.load == load {
			return r, true
		}
	}
	return result{}, false
}

// report is the Markdown of the run, for stdout and BENCHMARKS.md.
func (b *bench) report() string {
	var w strings.Builder
	e := b.env
	fmt.Fprintf(&w, "Measured %s with `BENCH_SCALE=%g go run ./bench/bootstrap` in %s: %d CPUs, PostgreSQL %s, RabbitMQ %s, %s. "+
		"The table: %d rows of ~300 bytes (5 columns: bigserial key, integer, numeric, text, timestamptz; %.0f MiB of heap), "+
		"copied into an empty table with its primary key. Every server is private to the run and on this machine: one source "+
		"cluster (wal_level=logical) and one target cluster, fsync and synchronous_commit on, and a RabbitMQ node; each copy "+
		"gets a fresh source database (a file copy of one loaded template) and a fresh target database. The replicator and "+
		"the publisher run with their defaults. With writers, 4 clients run %.0f single-row statements/s on the source "+
		"(¼ inserts, ½ updates, ¼ deletes) from a second before the copy starts until it is done.\n",
		e.date, b.o.scale, b.elapsed.Round(1e9), e.cpus, e.postgres, e.rabbitmq, e.gover, b.o.rows(), float64(b.tuple)/(1<<20), b.o.writerRate)
	b.copyReport(&w)
	b.verifyReport(&w)
	b.cpuReport(&w)
	return w.String()
}

func (b *bench) copyReport(w *strings.Builder) {
	fmt.Fprintf(w, "\n### Copy\n\npgfanout: from the replicator's start until `pgfanout.copy_tables` says `done`; native: from "+
		"`ALTER SUBSCRIPTION … ENABLE` until `pg_subscription_rel` says `r`; pg_dump: until psql exits. Idle, the time runs "+
		"until the target also equals the source by checksum (the start of the first matching read; reads begin "+
		"as the copy is done). With writers, catch-up is from the writers' stop until the target equals the source (pg_dump's "+
		"copy does not follow the source).\n\n")
	t := report.NewTable(report.Left("method"), report.Right("idle s"), report.Right("idle rows/s"), report.Right("4 writers s"),
		report.Right("4 writers rows/s"), report.Right("writes during the copy"), report.Right("writes/s"), report.Right("catch-up s"))
	for _, m := range allMethods {
		idle, okI := b.get(m, loadIdle)
		wr, okW := b.get(m, loadWriters)
		if !okI && !okW {
			continue
		}
		catch := "—"
		if okW && m != methodDump {
			catch = secs(wr.catchUp.Seconds())
		}
		t.Add(methodTitles[m], opt(okI, secs(idle.copy.Seconds())), opt(okI, num(idle.rate())), opt(okW, secs(wr.copy.Seconds())),
			opt(okW, num(wr.rate())), opt(okW, fmt.Sprint(wr.writes)), opt(okW, num(float64(wr.writes)/wr.copy.Seconds())), catch)
	}
	for _, other := range []string{methodNative, methodDump} {
		var cells []string
		for _, load := range []string{loadIdle, loadWriters} {
			f, okF := b.get(methodPgfanout, load)
			n, okN := b.get(other, load)
			cells = append(cells, "", opt(okF && okN, ratio(f.rate(), n.rate())))
		}
		t.Add(append([]string{"**pgfanout / " + other + "**"}, cells...)...)
	}
	w.WriteString(t.String())
}

func (b *bench) verifyReport(w *strings.Builder) {
	if b.verify == nil {
		return
	}
	v := b.verify
	fmt.Fprintf(w, "\n### Verify\n\n`replicator verify --tables public.bench` on pgfanout's idle copy, right after it: %d rows "+
		"compared at **%.0f rows/s** (its own figure: rows per second of comparing), %.1f s in all (listing, describing and "+
		"cutting the table included).\n", v.rows, v.perSec, v.elapsed.Seconds())
}

func (b *bench) cpuReport(w *strings.Builder) {
	if len(b.results) == 0 {
		return
	}
	fmt.Fprintf(w, "\n### CPU\n\nCPU seconds per run, from the clock's start until the copy was done (idle: and equal; with "+
		"writers: and caught up), by process: source backends reading (the replicator's copy sessions, pg_dump's, the "+
		"walsenders), serving the writers, and the rest (the publisher's sessions, background processes); the programs "+
		"(replicator and publisher; pg_dump and psql); target backends writing (the replicator's sessions, psql's, the "+
		"subscription's workers) and the rest. The bench's own sessions are left out.\n\n")
	cols := []report.Column{report.Left("process")}
	for _, r := range b.results {
		cols = append(cols, report.Right(r.method+", "+r.load))
	}
	t := report.NewTable(cols...)
	for _, role := range cpuRoles {
		cells := []string{role}
		for _, r := range b.results {
			cells = append(cells, secs(r.cpu.byRole[role].Seconds()))
		}
		t.Add(cells...)
	}
	cells := []string{"**total**"}
	wall := []string{"wall time"}
	for _, r := range b.results {
		cells = append(cells, "**"+secs(r.cpu.total().Seconds())+"**")
		wall = append(wall, secs(r.cpu.elapsed.Seconds()))
	}
	t.Add(cells...)
	t.Add(wall...)
	w.WriteString(t.String())
}

func num(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf("%.0f", v)
}

func secs(v float64) string { return fmt.Sprintf("%.2f", v) }

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return "—"
	}
	return fmt.Sprintf("**%.2f×**", a/b)
}

func opt(ok bool, s string) string {
	if !ok {
		return "—"
	}
	return s
}
