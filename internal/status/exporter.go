package status

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/bootstrap"
)

// MinInterval is the least time between two reads: scrapes closer together get the last one.
const MinInterval = 4 * time.Second

// Exporter serves a report's figures as Prometheus gauges (prefix pgfanout_status_), read
// from the source and the broker at each scrape, so that Prometheus sees the change log's
// age, every replica's queue and the lease even while no program runs. It keeps its
// connections between scrapes.
type Exporter struct {
	cfg  Config
	log  zerolog.Logger
	mu   sync.Mutex
	rd   *reader
	last Report
	at   time.Time // of the last read; zero before the first
}

// NewExporter registers the exporter's gauges on reg.
func NewExporter(cfg Config, log zerolog.Logger, reg prometheus.Registerer) (*Exporter, error) {
	e := &Exporter{cfg: cfg, log: log, rd: &reader{cfg: cfg}}
	if err := reg.Register(e); err != nil {
		return nil, err
	}
	return e, nil
}

// Run waits for ctx to end, then closes the connections.
func (e *Exporter) Run(ctx context.Context) error {
	<-ctx.Done()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rd.close()
	return nil
}

// Ready reports whether the last read got every part.
func (e *Exporter) Ready() (bool, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.at.IsZero():
		return true, "not scraped yet"
	case !e.last.Complete():
		return false, "the last read missed a part: " + firstNote(e.last)
	}
	return true, "read " + ago(time.Now(), e.at) + " ago"
}

func firstNote(r Report) string {
	if n := r.notes(); len(n) > 0 {
		return n[0]
	}
	return ""
}

// report reads, or returns the last read if it is recent.
func (e *Exporter) report() Report {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.at.IsZero() && time.Since(e.at) < MinInterval {
		return e.last
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Liveness.WithDefaults().Timeout)
	defer cancel()
	wasComplete := e.at.IsZero() || e.last.Complete()
	e.last, e.at = e.rd.read(ctx), time.Now()
	if complete := e.last.Complete(); complete != wasComplete {
		if complete {
			e.log.Info().Msg("status: every part read again")
		} else {
			e.log.Warn().Str("problem", firstNote(e.last)).Msg("status: a part could not be read")
		}
	}
	return e.last
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("pgfanout_status_"+name, help, labels, nil)
}

var (
	descUp             = desc("up", "1 when the last read of this part (source, broker) succeeded.", "part")
	descLeaderActive   = desc("leader_active", "1 while a publisher holds the leader lease (unexpired, its session alive).")
	descLeaderTerm     = desc("leader_term", "Term of the leader lease; it grows with every new leader.")
	descLeaderInfo     = desc("leader_info", "The lease's holder (1 while active, 0 once gone).", "host", "pid", "term")
	descLogEntries     = desc("changelog_entries", "Entries in the change log (pgfanout.backlog).")
	descLogChanges     = desc("changelog_changes", "Changes in the change log: captured, not yet confirmed by RabbitMQ.")
	descLogOldest      = desc("changelog_oldest_age_seconds", "Age of the change log's oldest entry on the source's clock (0: empty).")
	descQueueDeclared  = desc("queue_declared", "1 when the replica's queue pgfanout.<replica> exists.", "replica")
	descQueueMessages  = desc("queue_messages", "Messages ready in the replica's queue (not counting unacknowledged ones).", "replica")
	descQueueConsumers = desc("queue_consumers", "Consumers of the replica's queue.", "replica")
	descDeadLetters    = desc("dead_letters", "Messages in the replica's dead-letter queue pgfanout.<replica>.dead.", "replica")
	descCopyTables     = desc("copy_tables", "The replica's tables by copy state (with the replica's URL only).", "replica", "state")
)

// Describe sends every gauge's description.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descLeaderActive, descLeaderTerm, descLeaderInfo, descLogEntries,
		descLogChanges, descLogOldest, descQueueDeclared, descQueueMessages, descQueueConsumers, descDeadLetters, descCopyTables} {
		ch <- d
	}
}

// Collect reads (at most every MinInterval) and sends the gauges of what was read.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	r := e.report()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if r.Source {
		gauge(descUp, bool01(r.SourceError == ""), "source")
	}
	if r.Broker {
		gauge(descUp, bool01(r.BrokerError == ""), "broker")
	}
	if l := r.Publisher; l != nil {
		gauge(descLeaderActive, bool01(l.Held))
		gauge(descLeaderTerm, float64(l.Term))
		if l.ExpiresAt != nil {
			gauge(descLeaderInfo, bool01(l.Held), l.Host, strconv.Itoa(l.PID), strconv.FormatInt(l.Term, 10))
		}
	}
	if c := r.ChangeLog; c != nil {
		gauge(descLogEntries, float64(c.Entries))
		gauge(descLogChanges, float64(c.Changes))
		gauge(descLogOldest, c.OldestAge)
	}
	for _, rs := range r.Replicas {
		if q := rs.Queue; q != nil {
			gauge(descQueueDeclared, bool01(q.Declared), rs.Name)
			gauge(descQueueMessages, float64(q.Messages), rs.Name)
			gauge(descQueueConsumers, float64(q.Consumers), rs.Name)
			gauge(descDeadLetters, float64(q.DeadLetters), rs.Name)
		}
		if c := rs.Copy; c != nil {
			for _, state := range []string{bootstrap.StatePlanning, bootstrap.StateCopying, bootstrap.StateDone, bootstrap.StateFailed} {
				gauge(descCopyTables, float64(c.Tables[state]), rs.Name, state)
			}
		}
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
