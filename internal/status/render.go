package status

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pgfanout/pgfanout/internal/bootstrap"
)

// WriteJSON writes the report as one indented JSON object, for scripts.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as a person reads it at a glance: the publisher and the change
// log, then a table with a line per replica, then what needs attention.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "pgfanout status at %s\n\n", r.Time.Format("2006-01-02 15:04:05 MST"))
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "publisher\t%s\n", r.publisherLine())
	fmt.Fprintf(tw, "change log\t%s\n", r.changeLogLine())
	_ = tw.Flush()
	if len(r.Replicas) > 0 {
		b.WriteString("\n")
		tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REPLICA\tQUEUE\tREADY\tCONSUMERS\tDEAD LETTERS\tLAG\tBOOTSTRAP")
		for _, rs := range r.Replicas {
			queue, ready, consumers, dead := rs.queueCells(r.Broker)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", rs.Name, queue, ready, consumers, dead, rs.Lag, rs.copyCell())
		}
		_ = tw.Flush()
	}
	notes := r.notes()
	if len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			b.WriteString("! " + n + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r Report) publisherLine() string {
	switch {
	case !r.Source:
		return "n/a (no --source-url)"
	case r.Publisher == nil:
		return "unknown: " + r.SourceError
	case r.Publisher.ExpiresAt == nil:
		return "none has led yet"
	}
	l := r.Publisher
	who := fmt.Sprintf("%s pid %d, term %d", l.Host, l.PID, l.Term)
	if l.Crashed {
		return fmt.Sprintf("NONE ACTIVE: the leader (%s) is gone; a standby takes over within a second, if one runs", who)
	}
	if !l.Held {
		return fmt.Sprintf("NONE ACTIVE: the last leader (%s) let its lease expire %s ago", who, ago(r.Time, *l.ExpiresAt))
	}
	line := "active: " + who
	if l.RenewedAt != nil {
		line += ", renewed " + ago(r.Time, *l.RenewedAt) + " ago"
	}
	if l.AcquiredAt != nil {
		line += ", leading since " + l.AcquiredAt.UTC().Format("2006-01-02 15:04:05 MST")
	}
	return line
}

func (r Report) changeLogLine() string {
	switch {
	case !r.Source:
		return "n/a (no --source-url)"
	case r.ChangeLog == nil:
		return "unknown: " + r.SourceError
	case r.ChangeLog.Changes == 0:
		return "empty: every captured change is confirmed by RabbitMQ"
	}
	return fmt.Sprintf("%d changes in %d entries, the oldest waiting for %s", r.ChangeLog.Changes, r.ChangeLog.Entries,
		seconds(r.ChangeLog.OldestAge))
}

func (rs ReplicaStatus) queueCells(brokerRead bool) (queue, ready, consumers, dead string) {
	switch q := rs.Queue; {
	case q == nil && (rs.QueueError != "" || brokerRead):
		return "unknown (see below)", "-", "-", "-"
	case q == nil:
		return "n/a (no --amqp-url)", "-", "-", "-"
	case !q.Declared:
		return q.Name + " (NOT DECLARED)", "-", "-", "-"
	default:
		dead = fmt.Sprint(q.DeadLetters)
		if !q.DeadDeclared {
			dead = "no dead-letter queue"
		}
		return q.Name, fmt.Sprint(q.Messages), fmt.Sprint(q.Consumers), dead
	}
}

func (rs ReplicaStatus) copyCell() string {
	c := rs.Copy
	switch {
	case c == nil && rs.CopyError != "":
		return "unknown (see below)"
	case c == nil:
		return "n/a (no replica URL)"
	case !c.Started:
		return "not started (no replicator ran yet)"
	}
	total := 0
	for _, n := range c.Tables {
		total += n
	}
	cell := fmt.Sprintf("%d/%d tables done", c.Tables[bootstrap.StateDone], total)
	if n := c.Tables[bootstrap.StateCopying] + c.Tables[bootstrap.StatePlanning]; n > 0 {
		cell += fmt.Sprintf(", %d copying (%d/%d chunks, %d of ~%d rows)", n, c.ChunksDone, c.Chunks, c.Rows, c.RowsEstimate)
	}
	if n := c.Tables[bootstrap.StateFailed]; n > 0 {
		cell += fmt.Sprintf(", %d FAILED", n)
	}
	return cell
}

// notes are the errors and what needs attention, one line each.
func (r Report) notes() []string {
	var out []string
	if r.SourceError != "" {
		out = append(out, "source: "+r.SourceError)
	}
	if r.BrokerError != "" {
		out = append(out, "RabbitMQ: "+r.BrokerError)
	}
	for _, rs := range r.Replicas {
		if rs.QueueError != "" {
			out = append(out, rs.Name+": "+rs.QueueError)
		}
		if rs.CopyError != "" {
			out = append(out, rs.Name+": copy progress: "+rs.CopyError)
		}
		if q := rs.Queue; q != nil && !q.Declared {
			out = append(out, fmt.Sprintf("%s: queue %s does not exist: changes published now are lost to it "+
				"(run `replicator declare`, or start its replicator, which declares it and copies what it missed)", rs.Name, q.Name))
		}
		if q := rs.Queue; q != nil && q.DeadLetters > 0 {
			out = append(out, fmt.Sprintf("%s: %d dead letters in %s: README, Operations, dead letters", rs.Name, q.DeadLetters, q.DeadQueue))
		}
		if rs.Copy != nil {
			for _, t := range rs.Copy.Unfinished {
				if t.State == bootstrap.StateFailed {
					out = append(out, fmt.Sprintf("%s: the copy of %s failed: %s (fix it, then `replicator resync --tables %s`)", rs.Name, t.Table, t.Reason, t.Table))
				}
			}
		}
	}
	return out
}

// ago prints how long before now t was.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return seconds(d.Seconds())
}

// Complete reports whether every part asked for could be read.
func (r Report) Complete() bool {
	if r.SourceError != "" || r.BrokerError != "" {
		return false
	}
	for _, rs := range r.Replicas {
		if rs.QueueError != "" || rs.CopyError != "" {
			return false
		}
	}
	return true
}
