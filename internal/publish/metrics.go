package publish

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the publisher's Prometheus series (prefix pgfanout_publisher_).
type metrics struct {
	changes        prometheus.Counter
	messages       prometheus.Counter
	unroutable     prometheus.Counter
	batchChanges   prometheus.Histogram
	batchSeconds   prometheus.Histogram
	confirmSeconds prometheus.Histogram
	backlog        prometheus.Gauge
	notifyUsage    prometheus.Gauge
	isLeader       prometheus.Gauge
	blocked        prometheus.Gauge
	stalls         prometheus.Counter
	lowWater       prometheus.Gauge
	reconnects     *prometheus.CounterVec
}

// Reconnect targets.
const (
	targetPostgres = "postgresql"
	targetListener = "postgresql-listen"
	targetRabbitMQ = "rabbitmq"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	name := func(n string) string { return "pgfanout_publisher_" + n }
	latency := prometheus.ExponentialBuckets(0.001, 2, 16) // 1 ms .. 33 s
	m := &metrics{
		changes: prometheus.NewCounter(prometheus.CounterOpts{Name: name("changes_published_total"),
			Help: "Changes confirmed by RabbitMQ and deleted from the change log."}),
		messages: prometheus.NewCounter(prometheus.CounterOpts{Name: name("messages_published_total"),
			Help: "Messages confirmed by RabbitMQ."}),
		unroutable: prometheus.NewCounter(prometheus.CounterOpts{Name: name("unroutable_messages_total"),
			Help: "Messages RabbitMQ returned because no queue was bound for their routing key (their changes are dropped)."}),
		batchChanges: prometheus.NewHistogram(prometheus.HistogramOpts{Name: name("batch_changes"),
			Help: "Changes per published batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: name("batch_duration_seconds"),
			Help: "Time from fetching a batch to deleting it after its confirms.", Buckets: latency}),
		confirmSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: name("confirm_duration_seconds"),
			Help: "Time from the last publish of a batch to its last confirm.", Buckets: latency}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{Name: name("changelog_depth_changes"),
			Help: "Changes in the change log not yet confirmed by RabbitMQ."}),
		notifyUsage: prometheus.NewGauge(prometheus.GaugeOpts{Name: name("notification_queue_usage_ratio"),
			Help: "pg_notification_queue_usage() of the source server (0..1)."}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{Name: name("is_leader"),
			Help: "1 while this process holds the leader lease, 0 while it stands by."}),
		blocked: prometheus.NewGauge(prometheus.GaugeOpts{Name: name("broker_blocked"),
			Help: "1 while RabbitMQ blocks this leader's connection for a resource alarm (memory, disk)."}),
		stalls: prometheus.NewCounter(prometheus.CounterOpts{Name: name("stalls_total"),
			Help: "Times the progress watchdog found the leader stuck and reconnected everything."}),
		lowWater: prometheus.NewGauge(prometheus.GaugeOpts{Name: name("low_water_version"),
			Help: "The source's low-water mark as last advanced: every change below it was confirmed (docs/bookkeeping.md)."}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("reconnects_total"),
			Help: "Connections re-established after a failure, by target."}, []string{"target"}),
	}
	for _, target := range []string{targetPostgres, targetListener, targetRabbitMQ} {
		m.reconnects.WithLabelValues(target) // export zeros, so rate() works from the start
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.changes, m.messages, m.unroutable, m.batchChanges, m.batchSeconds,
		m.confirmSeconds, m.backlog, m.notifyUsage, m.isLeader, m.blocked, m.stalls, m.lowWater, m.reconnects} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
