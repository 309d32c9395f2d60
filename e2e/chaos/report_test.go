package chaos

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

func sortEvents(evs []event) {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].start.Before(evs[j].start) })
}

// report logs what the run did and measured.
func (r *run) report() {
	evs := r.inj.ran()
	from, to := outageWindow(evs)
	skipB := func(t time.Time) bool { return !from.IsZero() && !t.Before(from) && !t.After(to) }
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	p("chaos report: seed %d, %s of faults from %s; replay: %s", r.cfg.seed, r.cfg.duration,
		r.chaosStart.Format(time.TimeOnly), r.cfg.replay())
	p("")
	p("faults as they ran: start (planned), lane, fault, how long it took; then how long after its end (after the SIGKILL for a leader) each part it knocked out was ready again:")
	injected := 0
	for _, e := range evs {
		rel := e.start.Sub(r.chaosStart).Round(100 * time.Millisecond)
		what := strings.TrimSpace(e.fault.String()[8:])
		if e.skipped != "" {
			p("  %8s (%s)  skipped: %s (%s)", "+"+rel.String(), "+"+e.at.String(), what, e.skipped)
			continue
		}
		injected++
		line := fmt.Sprintf("  %8s (%s)  %s: took %s", "+"+rel.String(), "+"+e.at.String(), what, e.end.Sub(e.start).Round(100*time.Millisecond))
		if e.note != "" {
			line += "; " + e.note
		}
		if len(e.ready) > 0 {
			line += "; ready: " + readyText(e.ready)
		}
		p("%s", line)
	}
	p("")
	counts := map[kind]int{}
	for _, e := range evs {
		if e.skipped == "" {
			counts[e.kind]++
		}
	}
	var kinds []string
	for k := range numKinds {
		if counts[k] > 0 {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, counts[k]))
		}
	}
	p("faults injected: %d (%s)", injected, strings.Join(kinds, ", "))
	r.reportChanges(p)
	r.reportConvergence(p, evs, skipB)
	p("")
	p("targets: faults >= %d per 8 min run: %s (%d in %s); nothing lost: %s; every replica equal <= %s after the last fault: %s",
		faultTarget, met(float64(injected)*float64(8*time.Minute)/float64(r.cfg.duration) >= faultTarget), injected, r.cfg.duration,
		met(len(r.failures) == 0), convergeTarget, met(!r.conv.both().IsZero() && r.conv.both().Sub(r.lastFault.end) <= convergeTarget))
	r.t.Log("\n" + b.String())
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// reportChanges: what was written, published, applied, redelivered and dead-lettered.
func (r *run) reportChanges(p func(string, ...any)) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	captured, perTable, err := capturedChanges(ctx, r.rig.source.url())
	if err != nil {
		p("changes captured: unknown (%v)", err)
	}
	st := &r.work.stats
	p("changes written: %d captured on the source by committed transactions (%s)", captured, perTable)
	p("  the clients: %d transactions acknowledged with %d changes; %d statements cut off by faults (%d commits in doubt), %d deadlocks; %d truncates, %d rows of 5 MB, %d rows over 8 kB",
		st.tx.Load(), st.changes.Load(), st.interrupted.Load(), st.inDoubt.Load(), st.aborted.Load(), st.truncates.Load(), st.big.Load(), st.over8k.Load())
	pub := counters{}
	for _, pp := range r.progs.publishers {
		pub.add(pp.totals())
	}
	published := pub["pgfanout_publisher_changes_published_total"]
	p("  published: %.0f changes in %.0f messages (%+.0f against the captured: republished after crashes), %.0f reconnects, %.0f unroutable, %.0f stalls",
		published, pub["pgfanout_publisher_messages_published_total"], published-float64(captured),
		pub["pgfanout_publisher_reconnects_total"], pub["pgfanout_publisher_unroutable_messages_total"], pub["pgfanout_publisher_stalls_total"])
	for _, rep := range []string{"a", "b"} {
		c := counters{}
		starts := 0
		for n, pr := range r.progs.replicators {
			if n[:1] == rep {
				c.add(pr.totals())
				starts += pr.starts
			}
		}
		p("  replica %s: %.0f changes applied (%+.0f against the captured), %.0f redelivered messages, %.0f stale messages, %.0f transient apply retries, %.0f rows copied, %.0f dead-lettered, %d replicator processes",
			rep, c["pgfanout_replicator_applied_changes_total"], c["pgfanout_replicator_applied_changes_total"]-float64(captured),
			c["pgfanout_replicator_redeliveries_total"], c["pgfanout_replicator_stale_messages_total"],
			c["pgfanout_replicator_apply_retries_total"], c["pgfanout_replicator_copy_rows_total"],
			c["pgfanout_replicator_dead_lettered_total"], starts)
	}
	p("  (counters are summed over every process; a killed process's are its last scrape, taken just before the SIGKILL)")
	lost := "0: every table's checksum equal on both replicas"
	for i, name := range []string{"a", "b"} {
		if d := differing(r.conv.source, r.conv.last[i]); r.conv.equal[i].IsZero() {
			lost = fmt.Sprintf("replica %s NOT equal: %s", name, strings.Join(d, "; "))
		}
	}
	p("changes lost: %s", lost)
	for _, name := range []string{"a", "b"} {
		p("  replicator verify, replica %s:\n    %s", name, strings.ReplaceAll(r.verifyOut[name], "\n", "\n    "))
	}
	p("dead letters: %v", r.deadLetters)
}

// reportConvergence: when each part caught up after the last fault, and how long the parts
// each kind of fault knocks out took to be ready again.
func (r *run) reportConvergence(p func(string, ...any), evs []event, skipB func(time.Time) bool) {
	c := r.conv
	at := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return fmt.Sprintf("%.1f s", t.Sub(r.lastFault.end).Seconds())
	}
	p("")
	p("convergence, counted from the end of the last fault (%s, ended %.1f s into the phase; the writes stopped %.1f s after it):",
		strings.TrimSpace(r.lastFault.fault.String()[8:]), r.lastFault.end.Sub(r.chaosStart).Seconds(),
		r.writesEnd.Sub(r.lastFault.end).Seconds())
	var ready []string
	for _, n := range []string{"leader", "replicator-a1", "replicator-a2", "replicator-b"} {
		ready = append(ready, n+" "+at(c.ready[n]))
	}
	p("  ready again: %s", strings.Join(ready, ", "))
	p("  change log empty %s, queue a empty %s, queue b empty %s, replica a equal %s, replica b equal %s: converged %s after the last fault, %.1f s after the last write",
		at(c.logEmpty), at(c.queueEmpty[0]), at(c.queueEmpty[1]), at(c.equal[0]), at(c.equal[1]), at(c.both()),
		c.both().Sub(r.writesEnd).Seconds())
	ml := r.probe.maxLag(skipB)
	p("  largest lag during the run: replica a %s, replica b %s (outside its long outage)", ml[0].Round(100*time.Millisecond), ml[1].Round(100*time.Millisecond))
	p("back after a fault, by kind (median / max over the faults of that kind; the lanes overlap, so another fault can hold a part up):")
	for k := range numKinds {
		groups := map[string][]time.Duration{}
		missing := map[string]int{}
		for _, e := range evs {
			if e.kind != k || e.skipped != "" {
				continue
			}
			for name, d := range e.ready {
				g := "leader"
				if strings.HasPrefix(name, "replicator") {
					g = "replicators"
				}
				if d < 0 {
					missing[g]++
				} else {
					groups[g] = append(groups[g], d)
				}
			}
		}
		var parts []string
		for _, g := range []string{"leader", "replicators"} {
			d := groups[g]
			if len(d) == 0 && missing[g] == 0 {
				continue
			}
			slices.Sort(d)
			part := fmt.Sprintf("%s %d", g, len(d)+missing[g])
			if len(d) > 0 {
				part += fmt.Sprintf(" × %.1f / %.1f s", d[len(d)/2].Seconds(), d[len(d)-1].Seconds())
			}
			if missing[g] > 0 {
				part += fmt.Sprintf(" (%d not within %s)", missing[g], readyWithin)
			}
			parts = append(parts, part)
		}
		if len(parts) > 0 {
			p("  %-28s %s", k.String()+":", strings.Join(parts, "; "))
		}
	}
}

// readyText lists how long each part took to be ready again, in name order.
func readyText(ready map[string]time.Duration) string {
	var names []string
	for n := range ready {
		names = append(names, n)
	}
	slices.Sort(names)
	var parts []string
	for _, n := range names {
		if d := ready[n]; d < 0 {
			parts = append(parts, n+" not within "+readyWithin.String())
		} else {
			parts = append(parts, fmt.Sprintf("%s %.1fs", strings.TrimPrefix(n, "replicator-"), d.Seconds()))
		}
	}
	return strings.Join(parts, ", ")
}

// capturedChanges sums the source's count of captured changes, in all and per table.
func capturedChanges(ctx context.Context, url string) (int64, string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT table_name, sum(n) FILTER (WHERE op = 'I'), sum(n) FILTER (WHERE op = 'U'),
		sum(n) FILTER (WHERE op = 'D'), sum(n) FILTER (WHERE op = 'T') FROM chaos_captured GROUP BY 1 ORDER BY 1`)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	var total int64
	var parts []string
	for rows.Next() {
		var table string
		var ins, upd, del, trunc *int64
		if err := rows.Scan(&table, &ins, &upd, &del, &trunc); err != nil {
			return 0, "", err
		}
		v := func(p *int64) int64 {
			if p == nil {
				return 0
			}
			return *p
		}
		total += v(ins) + v(upd) + v(del) + v(trunc)
		parts = append(parts, fmt.Sprintf("%s: %d inserts, %d updates, %d deletes, %d truncates", table, v(ins), v(upd), v(del), v(trunc)))
	}
	return total, strings.Join(parts, "; "), rows.Err()
}
