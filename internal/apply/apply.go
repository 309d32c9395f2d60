// Package apply writes batches of changes to a replica database: one transaction per batch,
// one pipelined round trip, statements from internal/dml. It keeps the replica's bookkeeping
// (schema pgfanout) and a cache of table descriptions read from the replica's catalog.
package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/dml"
)

// Applier applies batches of changes to one replica. Safe for concurrent use; any number of
// Appliers, in any number of processes, may apply overlapping batches to the same replica.
type Applier struct {
	pool *pgxpool.Pool
	cat  *catalog

	mu          sync.Mutex
	schemaReady bool
	prunedTo    int64 // the cutoff this applier's last complete prune reached
	healer      Healer
	stops       stops
}

// Healer brings a replica table in line with its source after a batch of it failed
// (internal/follow): it reports whether it changed the replica, so that the batch is retried.
type Healer interface {
	Heal(ctx context.Context, schema, table string, cause error) bool
}

// SetHealer sets the healer Apply asks when a batch fails for its data (none: nil).
func (a *Applier) SetHealer(h Healer) {
	a.mu.Lock()
	a.healer = h
	a.mu.Unlock()
}

// New returns an Applier writing through pool (see PoolConfig for the session settings it
// needs).
func New(pool *pgxpool.Pool) *Applier {
	return &Applier{pool: pool, cat: newCatalog(pool)}
}

// Apply applies changes in one transaction. Errors are *DataError when the changes themselves
// are at fault (see IsTransient); on any failure nothing is applied.
func (a *Applier) Apply(ctx context.Context, changes []change.Change) error {
	if len(changes) == 0 {
		return nil
	}
	if err := a.ensureSchema(ctx); err != nil {
		return err
	}
	err := a.try(ctx, changes)
	if err == nil || IsTransient(err) {
		return err
	}
	var stale *StaleError
	if errors.As(err, &stale) {
		return err
	}
	// The cached description may be stale (a column added, a table created or recreated on
	// the replica), or the source's table changed shape: let the healer follow it, describe
	// the tables again and retry once before blaming the data.
	tables := names(changes)
	a.mu.Lock()
	h := a.healer
	a.mu.Unlock()
	if h != nil {
		for _, n := range tables {
			h.Heal(ctx, n.schema, n.name, err)
		}
	}
	a.cat.forget(tables)
	return a.try(ctx, changes)
}

// Describe returns the replica table's definition (a *DataError when it does not exist).
func (a *Applier) Describe(ctx context.Context, schema, table string) (*dml.Table, error) {
	t, err := a.cat.lookup(ctx, tableName{schema, table})
	if err != nil {
		return nil, err
	}
	def := t.Table
	return &def, nil
}

// Forget drops the cached definition of a table (after it was created or altered).
func (a *Applier) Forget(schema, table string) { a.cat.forget([]tableName{{schema, table}}) }

// Pool is the replica pool the applier writes through.
func (a *Applier) Pool() *pgxpool.Pool { return a.pool }

// Ping checks that the replica answers.
func (a *Applier) Ping(ctx context.Context) error {
	if err := a.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping the replica: %w", err)
	}
	return nil
}

func (a *Applier) try(ctx context.Context, changes []change.Change) error {
	p, err := buildPlan(changes, func(n tableName) (*table, error) { return a.cat.lookup(ctx, n) })
	if err != nil {
		return err
	}
	return a.exec(ctx, p)
}

func names(changes []change.Change) []tableName {
	seen := map[tableName]bool{}
	var out []tableName
	for i := range changes {
		n := tableName{changes[i].Schema, changes[i].Table}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// Prepare creates the replica's bookkeeping schema if it is missing (Apply does too).
func (a *Applier) Prepare(ctx context.Context) error { return a.ensureSchema(ctx) }

// ensureSchema creates the bookkeeping schema once per Applier. When it already exists the DDL
// is skipped, so a replicator role without CREATE privilege works on a prepared replica.
func (a *Applier) ensureSchema(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.schemaReady {
		return nil
	}
	var present bool
	err := a.pool.QueryRow(ctx, dml.BookkeepingPresent).Scan(&present)
	if err != nil {
		return fmt.Errorf("check bookkeeping schema: %w", err)
	}
	if !present {
		if err := a.createSchema(ctx); err != nil {
			return &setupError{err: err}
		}
	}
	a.schemaReady = true
	return nil
}

func (a *Applier) createSchema(ctx context.Context) error {
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create bookkeeping schema: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, dml.BookkeepingLock, dml.BookkeepingLockKey); err != nil {
		return fmt.Errorf("create bookkeeping schema: %w", err)
	}
	// Another replicator may have created it while this one waited for the lock; running the
	// DDL again would lock tables its applies already use.
	var present bool
	if err := tx.QueryRow(ctx, dml.BookkeepingPresent).Scan(&present); err != nil || present {
		if err != nil {
			return fmt.Errorf("create bookkeeping schema: %w", err)
		}
		return nil
	}
	for _, stmt := range dml.Bookkeeping {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create bookkeeping schema: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("create bookkeeping schema: %w", err)
	}
	return nil
}
