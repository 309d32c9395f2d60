package replicate

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	applied      *prometheus.CounterVec
	batchChanges prometheus.Histogram
	applySeconds prometheus.Histogram
	lag          prometheus.Histogram
	deadLettered prometheus.Counter
	redeliveries prometheus.Counter
	retries      prometheus.Counter
	deadlocks    prometheus.Counter
	skipped      prometheus.Counter
	stale        *prometheus.CounterVec
	stopped      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "pgfanout", "replicator"
	m := &metrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "applied_changes_total",
			Help: "Changes committed to the replica (including stale ones the bookkeeping skipped), by table."},
			[]string{"table"}),
		batchChanges: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "batch_changes", Help: "Changes per committed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "apply_seconds", Help: "Time to apply and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "lag_seconds", Help: "End-to-end lag of each applied change: commit on the replica minus commit on the source.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 14)}),
		deadLettered: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "dead_lettered_total", Help: "Messages published to the dead-letter queue."}),
		redeliveries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "redeliveries_total", Help: "Messages the broker delivered again (after a consumer failed or disconnected)."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "apply_retries_total", Help: "Batch attempts that failed transiently (replica down, deadlock) and were retried."}),
		deadlocks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "deadlocks_total", Help: "Batch attempts the replica aborted as a deadlock (SQLSTATE 40P01), also counted in apply_retries_total. " +
				"Apply takes its locks in one order, so anything but 0 is a bug."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "skipped_changes_total", Help: "Changes of tables outside --tables (left by an old binding), acknowledged unapplied."}),
		stale: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "stale_messages_total", Help: "Messages with changes below the bookkeeping horizon that the replica could not place, " +
				"by what was done: resync (their table is copied again) or dead_lettered (no --source-url)."}, []string{"outcome"}),
		stopped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "stopped_changes_total", Help: "Changes acknowledged without being applied because their table's stream is stopped " +
				"(until a resync copies it again), by table."}, []string{"table"}),
	}
	reg.MustRegister(m.applied, m.batchChanges, m.applySeconds, m.lag, m.deadLettered, m.redeliveries, m.retries, m.deadlocks, m.skipped, m.stale, m.stopped)
	return m
}
