package bootstrap

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	queries "github.com/pgfanout/pgfanout/sql"
)

// progressEvery is how often copy progress is logged and its gauges refreshed.
const progressEvery = 10 * time.Second

// Progress is a table's copy as pgfanout.copy_tables and copy_chunks say.
type Progress struct {
	Schema, Table string
	Epoch         string
	State         string
	Reason        string
	Chunks        int   // of the current plan
	ChunksDone    int   // copied (or skipped)
	Rows          int64 // copied
	RowsEstimate  int64 // the source planner's estimate when planned
}

// Progress reads every table's copy state from the replica.
func (c *Copier) Progress(ctx context.Context) ([]Progress, error) {
	return ReadProgress(ctx, c.rep, c.cfg.Liveness.Timeout)
}

// Querier is what ReadProgress reads through (a pool or a connection).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ReadProgress reads every table's copy state from a replica (for `replicator status`,
// `resync` and `verify` too).
func ReadProgress(ctx context.Context, q Querier, timeout time.Duration) ([]Progress, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rows, err := q.Query(ctx, queries.CopyProgress, ChunkDone)
	if err != nil {
		return nil, fmt.Errorf("read copy progress: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Progress, error) {
		var p Progress
		var reason *string
		err := r.Scan(&p.Schema, &p.Table, &p.Epoch, &p.State, &reason, &p.Chunks, &p.ChunksDone, &p.Rows, &p.RowsEstimate)
		if reason != nil {
			p.Reason = *reason
		}
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read copy progress: %w", err)
	}
	return out, nil
}

// ETA estimates the time left from the rate since the copy's rows were last counted.
func (p Progress) ETA(rate float64) time.Duration {
	left := p.RowsEstimate - p.Rows
	if rate <= 0 || left <= 0 {
		return 0
	}
	return time.Duration(float64(left) / rate * float64(time.Second))
}

// progressLoop logs the progress of copies under way and refreshes the gauges.
func (c *Copier) progressLoop(ctx context.Context) error {
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	last := map[string]int64{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		progress, err := c.Progress(ctx)
		if err != nil {
			continue // the copy loops report outages
		}
		c.m.states(progress)
		for _, p := range progress {
			name := p.Schema + "." + p.Table
			rate := float64(p.Rows-last[name]) / progressEvery.Seconds()
			last[name] = p.Rows
			eta := p.ETA(rate)
			c.m.eta.WithLabelValues(name).Set(eta.Seconds())
			if p.State == StateCopying {
				c.log.Info().Str("table", name).Int("chunks_done", p.ChunksDone).Int("chunks", p.Chunks).
					Int64("rows", p.Rows).Int64("rows_estimate", p.RowsEstimate).Float64("rows_per_s", rate).
					Str("eta", eta.Round(time.Second).String()).Msg("copying")
			}
		}
	}
}

// metrics are the copy's series (prefix pgfanout_replicator_copy_).
type metrics struct {
	rows   *prometheus.CounterVec
	chunks *prometheus.CounterVec
	tables *prometheus.GaugeVec
	eta    *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	name := func(n string) string { return "pgfanout_replicator_copy_" + n }
	m := &metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("rows_total"),
			Help: "Rows copied into the replica by this process, per table."}, []string{"table"}),
		chunks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("chunks_total"),
			Help: "Chunks copied by this process, per table."}, []string{"table"}),
		tables: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("tables"),
			Help: "Tables of the replica by copy state (planning, copying, done, failed)."}, []string{"state"}),
		eta: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("eta_seconds"),
			Help: "Estimated time until a table's copy is done (0: done or unknown)."}, []string{"table"}),
	}
	for _, s := range []string{StatePlanning, StateCopying, StateDone, StateFailed} {
		m.tables.WithLabelValues(s)
	}
	if reg == nil {
		return m, nil
	}
	for _, col := range []prometheus.Collector{m.rows, m.chunks, m.tables, m.eta} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) copied(table string, rows int) {
	m.rows.WithLabelValues(table).Add(float64(rows))
	m.chunks.WithLabelValues(table).Inc()
}

func (m *metrics) states(progress []Progress) {
	counts := map[string]int{StatePlanning: 0, StateCopying: 0, StateDone: 0, StateFailed: 0}
	for _, p := range progress {
		counts[p.State]++
	}
	for s, n := range counts {
		m.tables.WithLabelValues(s).Set(float64(n))
	}
}
