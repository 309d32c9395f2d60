package horizon

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/retry"
)

// Pruner raises a replica's bookkeeping cutoff and prunes below it (apply.Applier).
type Pruner interface {
	Prune(ctx context.Context, cutoff, seen int64) (apply.PruneResult, error)
}

// Loop prunes a replica's bookkeeping every Interval with the mark its Tracker aged by
// Horizon. Another replicator of the replica pruning at the time makes a round a no-op; a
// failed round is logged and tried again at the next, since the bookkeeping only grows
// meanwhile.
type Loop struct {
	horizon, interval time.Duration
	tracker           *Tracker
	pruner            Pruner
	log               zerolog.Logger
	m                 *metrics
}

// Interval is how often a Loop with horizon h prunes: often enough that entries outlive the
// horizon by little, never more than every 100 ms nor less than every 10 s.
func Interval(h time.Duration) time.Duration {
	return min(10*time.Second, max(100*time.Millisecond, h/6))
}

// New returns a Loop; metrics are registered on reg (none when nil).
func New(h time.Duration, tr *Tracker, p Pruner, log zerolog.Logger, reg prometheus.Registerer) *Loop {
	return &Loop{horizon: h, interval: Interval(h), tracker: tr, pruner: p, log: log, m: newMetrics(reg)}
}

// Run prunes until ctx ends; it returns nil then.
func (l *Loop) Run(ctx context.Context) error {
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		err := l.round(ctx)
		if err == nil || ctx.Err() != nil {
			failures = 0
			continue
		}
		failures++
		l.log.Warn().Err(err).Int("failures", failures).Msg("pruning the bookkeeping failed; trying again")
		if retry.Sleep(ctx, retry.Reconnect().Delay(failures)) != nil {
			return nil
		}
	}
}

func (l *Loop) round(ctx context.Context) error {
	seen := l.tracker.Seen()
	cutoff := l.tracker.Sample(time.Now(), l.horizon)
	l.m.seen.Set(float64(seen))
	if seen == 0 {
		return nil // no message carried a mark yet: nothing to record
	}
	start := time.Now()
	res, err := l.pruner.Prune(ctx, cutoff, seen)
	if err != nil {
		return err
	}
	l.m.cutoff.Set(float64(res.Cutoff))
	l.m.pruned.Add(float64(res.Pruned))
	if res.Busy {
		l.m.busy.Inc()
	}
	if res.Pruned > 0 {
		l.log.Debug().Int64("cutoff", res.Cutoff).Int64("pruned", res.Pruned).Dur("took", time.Since(start)).Msg("pruned bookkeeping")
	}
	return nil
}

type metrics struct {
	cutoff, seen prometheus.Gauge
	pruned, busy prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "pgfanout", "replicator"
	m := &metrics{
		cutoff: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "bookkeeping_cutoff_version",
			Help: "The replica's bookkeeping cutoff: entries below it are pruned, changes below it are stale (docs/bookkeeping.md)."}),
		seen: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "low_water_seen_version",
			Help: "The highest source low-water mark this process saw in a message."}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "bookkeeping_pruned_total",
			Help: "Bookkeeping entries pruned below the cutoff."}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "bookkeeping_prune_busy_total",
			Help: "Prune rounds left to another replicator, or whose fence applies held past its timeout."}),
	}
	if reg != nil {
		reg.MustRegister(m.cutoff, m.seen, m.pruned, m.busy)
	}
	return m
}
