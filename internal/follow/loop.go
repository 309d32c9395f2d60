package follow

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	queries "github.com/pgfanout/pgfanout/sql"
)

// Check compares every selected tracked table's shape hash on the source with the one the
// replica recorded, and reconciles the tables whose hash differs (or was never recorded): a
// shape change is followed within one check interval even when no batch failed, which a
// dropped column, whose images simply lack it, never makes happen.
func (f *Follower) Check(ctx context.Context, match func(schema, table string) bool) error {
	hashes, err := f.src.ShapeHashes(ctx)
	if err != nil {
		return err
	}
	rows, err := f.applier.Pool().Query(ctx, queries.ShapeHashesRecorded)
	if err != nil {
		return err
	}
	recorded := map[[2]string]string{}
	var k [2]string
	var h string
	if _, err := pgx.ForEachRow(rows, []any{&k[0], &k[1], &h}, func() error { recorded[k] = h; return nil }); err != nil {
		return err
	}
	for t, hash := range hashes {
		if !match(t[0], t[1]) {
			continue
		}
		if old, ok := recorded[t]; ok && old == hash {
			continue
		}
		if _, err := f.Reconcile(ctx, t[0], t[1], hash); err != nil {
			f.log.Warn().Err(err).Str("table", t[0]+"."+t[1]).Msg("could not follow the table's shape; trying again at the next check")
		}
	}
	return nil
}

// Run checks every interval until ctx ends.
func (f *Follower) Run(ctx context.Context, every time.Duration, match func(schema, table string) bool) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if err := f.Check(ctx, match); err != nil && ctx.Err() == nil {
			f.log.Warn().Err(err).Msg("could not compare the tracked tables' shapes with the replica's; trying again")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

type Metrics struct {
	created, statements, stopped prometheus.Counter
}

// Metrics are the follower's series. NewMetrics registers the follower's metrics on reg (none when nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "pgfanout", "replicator"
	m := &Metrics{
		created: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "tables_created_total",
			Help: "Tracked tables the replicator created on the replica from the source's definition."}),
		statements: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "ddl_followed_total",
			Help: "DDL statements run on the replica to follow a source table's shape change."}),
		stopped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "tables_stopped_total",
			Help: "Times a table's stream was stopped because the replica could not follow its shape."}),
	}
	if reg != nil {
		reg.MustRegister(m.created, m.statements, m.stopped)
	}
	return m
}
