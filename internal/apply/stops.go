package apply

import (
	"sync"

	"github.com/jackc/pgx/v5"

	queries "github.com/pgfanout/pgfanout/sql"
)

// StateFailed is the copy state (pgfanout.copy_tables, internal/bootstrap) of a table whose
// stream is stopped.
const StateFailed = "failed"

// stops are the tables this process believes stopped: their copy failed (internal/follow stops
// a table whose shape the replica cannot follow). An apply drops their changes only after
// reading, under a share lock of the table's copy row, that it still is (stopped.check); the
// new copy that ends a stop holds every change dropped meanwhile.
type stops struct {
	mu      sync.Mutex
	tables  map[tableName]bool
	dropped func(schema, table string, changes int)
}

// SetStopped replaces the set of tables believed stopped.
func (a *Applier) SetStopped(tables [][2]string) {
	a.stops.mu.Lock()
	defer a.stops.mu.Unlock()
	a.stops.tables = map[tableName]bool{}
	for _, t := range tables {
		a.stops.tables[tableName{t[0], t[1]}] = true
	}
}

// OnDropped sets a callback told of the changes an apply dropped because their table is
// stopped.
func (a *Applier) OnDropped(f func(schema, table string, changes int)) {
	a.stops.mu.Lock()
	a.stops.dropped = f
	a.stops.mu.Unlock()
}

func (s *stops) believed(n tableName) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tables[n]
}

// check queues, for a table believed stopped, the locked read of its copy state.
func (tp *tablePlan) checkStopped(q *queued) {
	q.addRead(tp.name, func(rows pgx.Rows) error {
		for rows.Next() {
			tp.stopped = true
		}
		return rows.Err()
	}, queries.CopyTableStopped, tp.name.schema, tp.name.name, StateFailed)
}

// dropStopped removes the tables found stopped from the plan and reports their changes.
func (a *Applier) dropStopped(p *plan) {
	kept := p.tables[:0]
	for _, tp := range p.tables {
		if !tp.stopped {
			kept = append(kept, tp)
			continue
		}
		a.stops.mu.Lock()
		f := a.stops.dropped
		a.stops.mu.Unlock()
		if f != nil {
			f(tp.name.schema, tp.name.name, tp.changes)
		}
	}
	p.tables = kept
}
