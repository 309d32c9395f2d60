package follow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/dml"
	"github.com/pgfanout/pgfanout/internal/schema"
	"github.com/pgfanout/pgfanout/internal/source"
	queries "github.com/pgfanout/pgfanout/sql"
)

// Copies is what the follower asks of the replica's copier (internal/bootstrap).
type Copies interface {
	// ResyncStale requests a new copy of a table (unless one is planned already).
	ResyncStale(ctx context.Context, schema, table string) error
	// Stop marks a table's copy failed, with the reason: its stream stops until a resync.
	Stop(ctx context.Context, schema, table, reason string) error
}

// Config configures a Follower.
type Config struct {
	Create bool // create tables the replica lacks (--create-tables)
	Follow bool // follow shape changes of existing tables (--follow-ddl)
	// HealEvery is the least time between two reconciliations of one table that a failing
	// batch asks for (default 2 s): a table whose batches keep failing for another reason is
	// not described again for every batch.
	HealEvery time.Duration
}

// Follower creates and follows replica tables from their source definitions.
type Follower struct {
	cfg     Config
	src     *source.Source
	applier *apply.Applier
	copies  Copies
	log     zerolog.Logger
	m       *Metrics

	mu    sync.Mutex
	tried map[[2]string]time.Time // when Heal last reconciled each table
}

// New returns a Follower reading the source through src and writing through applier's pool.
func New(cfg Config, src *source.Source, applier *apply.Applier, copies Copies, log zerolog.Logger, m *Metrics) *Follower {
	if cfg.HealEvery <= 0 {
		cfg.HealEvery = 2 * time.Second
	}
	return &Follower{cfg: cfg, src: src, applier: applier, copies: copies, log: log, m: m, tried: map[[2]string]time.Time{}}
}

// Outcome is what a reconciliation did.
type Outcome struct {
	Created    bool     // the table was created
	Types      int      // types created and enum labels added
	Statements []string // DDL run on the existing table
	Resync     bool     // a new copy was requested
	Stopped    string   // the table cannot follow: why (its stream is stopped)
}

// Changed reports whether the replica changed.
func (o Outcome) Changed() bool { return o.Created || o.Types > 0 || len(o.Statements) > 0 }

// Reconcile brings the replica's table schema.table to the source's current shape: creates it
// when missing (Config.Create), or follows what changed since the shape it recorded
// (Config.Follow). hash is the source's shape hash when known (” otherwise), recorded with
// the shape. A table the source no longer has is left alone.
func (f *Follower) Reconcile(ctx context.Context, schemaName, table, hash string) (Outcome, error) {
	var out Outcome
	src, err := f.src.DescribeTable(ctx, schemaName, table)
	var nf *schema.NotFoundError
	if errors.As(err, &nf) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	pool := f.applier.Pool()
	f.applier.Forget(schemaName, table)
	defer f.applier.Forget(schemaName, table)
	if _, err := f.applier.Describe(ctx, schemaName, table); err != nil {
		var de *apply.DataError
		if !errors.As(err, &de) || !f.cfg.Create {
			return out, err
		}
		res, err := schema.Ensure(ctx, pool, src)
		if err != nil {
			return out, err
		}
		out.Created, out.Types = res.Table, len(res.Types)+len(res.Labels)
		if out.Created {
			f.log.Info().Str("table", src.Name.String()).Int("types", len(res.Types)).Msg("created the table on the replica")
			f.m.created.Inc()
		}
		return out, f.record(ctx, src, hash)
	}
	if !f.cfg.Follow {
		return out, nil
	}
	res, err := schema.EnsureTypes(ctx, pool, src)
	if err != nil {
		return out, f.stop(ctx, src.Name, err.Error(), &out)
	}
	out.Types = len(res.Types) + len(res.Labels)
	plan, err := f.alter(ctx, src, hash)
	if err != nil {
		var ue *unfollowable
		if errors.As(err, &ue) {
			return out, f.stop(ctx, src.Name, ue.reason, &out)
		}
		return out, err
	}
	out.Statements = plan.Statements
	for _, s := range plan.Statements {
		f.log.Warn().Str("table", src.Name.String()).Str("ddl", s).Msg("followed a shape change of the source table")
	}
	f.m.statements.Add(float64(len(plan.Statements)))
	if plan.Resync && f.copies != nil {
		if err := f.copies.ResyncStale(ctx, schemaName, table); err != nil {
			return out, err
		}
		out.Resync = true
		f.log.Warn().Str("table", src.Name.String()).Msg("the replica cannot rebuild the new values by itself: the table is copied again")
	}
	return out, nil
}

// lockSQL takes the schema lock for the transaction and pins its search_path to pg_catalog,
// under which the DDL's built-in type names were printed (as schema.Ensure does).
const lockSQL = `SELECT pg_advisory_xact_lock($1), set_config('search_path', 'pg_catalog', true)`

// unfollowable is a shape change the replica cannot take.
type unfollowable struct{ reason string }

func (e *unfollowable) Error() string { return e.reason }

// alter plans and runs the DDL in one replica transaction under the schema lock (which
// Ensure takes too), with the recorded shape and the replica's columns read under it: two
// replicators following one change run it once.
func (f *Follower) alter(ctx context.Context, src *schema.Table, hash string) (Plan, error) {
	var plan Plan
	err := pgx.BeginFunc(ctx, f.applier.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockSQL, schema.LockKey); err != nil {
			return err
		}
		prev, names, err := readShape(ctx, tx, src.Name)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, dml.Catalog, src.Name.Schema, src.Name.Name)
		if err != nil {
			return err
		}
		_, rep, err := dml.ScanCatalog(rows, src.Name.Schema, src.Name.Name)
		if err != nil {
			return err
		}
		if rep == nil {
			return &unfollowable{reason: "the replica table is gone"}
		}
		var have []string
		for _, c := range rep.Columns {
			have = append(have, c.Name)
		}
		plan = Diff(prev, names, src, have)
		if plan.Unsupported != "" {
			return &unfollowable{reason: "cannot follow: " + plan.Unsupported}
		}
		for _, s := range plan.Statements {
			if _, err := tx.Exec(ctx, s); err != nil {
				return &unfollowable{reason: fmt.Sprintf("cannot follow: %s: %v", s, err)}
			}
		}
		return writeShape(ctx, tx, src.Name, plan.Shape, plan.Names, hash)
	})
	return plan, err
}

// record records the shape of a table the replica has just created.
func (f *Follower) record(ctx context.Context, src *schema.Table, hash string) error {
	return pgx.BeginFunc(ctx, f.applier.Pool(), func(tx pgx.Tx) error {
		return writeShape(ctx, tx, src.Name, ShapeOf(src), Names{}, hash)
	})
}

// stop stops the table's stream with reason (its copy fails until a resync).
func (f *Follower) stop(ctx context.Context, n schema.Name, reason string, out *Outcome) error {
	out.Stopped = reason
	f.m.stopped.Inc()
	f.log.Error().Str("table", n.String()).Str("reason", reason).
		Msg("the replica cannot follow the source table: its stream is stopped; fix the replica table, then run replicator resync --tables")
	if f.copies == nil {
		return nil
	}
	return f.copies.Stop(ctx, n.Schema, n.Name, reason)
}

// Heal reconciles a table one of whose batches failed with cause, at most once per HealEvery,
// and reports whether the batch is worth retrying: the replica changed, or another caller
// (a second copy worker, the stream's applier) reconciled the table less than HealEvery ago
// or is doing it now, so the failure may predate that change. Only a reconciliation of its own
// that found nothing to change says false.
func (f *Follower) Heal(ctx context.Context, schemaName, table string, cause error) bool {
	k := [2]string{schemaName, table}
	f.mu.Lock()
	if time.Since(f.tried[k]) < f.cfg.HealEvery {
		f.mu.Unlock()
		return true
	}
	f.tried[k] = time.Now()
	f.mu.Unlock()
	out, err := f.Reconcile(ctx, schemaName, table, "")
	if err != nil {
		f.log.Warn().Err(err).Str("table", k[0]+"."+k[1]).AnErr("cause", cause).Msg("could not compare the replica table with the source")
		return false
	}
	return out.Changed() || out.Stopped != ""
}

func readShape(ctx context.Context, tx pgx.Tx, n schema.Name) (*Shape, Names, error) {
	var shape, names []byte
	var hash string
	err := tx.QueryRow(ctx, queries.ShapeRead, n.Schema, n.Name).Scan(&shape, &names, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, Names{}, nil
	}
	if err != nil {
		return nil, Names{}, err
	}
	var s Shape
	var nm Names
	if err := json.Unmarshal(shape, &s); err != nil {
		return nil, Names{}, fmt.Errorf("recorded shape of %s: %w", n, err)
	}
	if err := json.Unmarshal(names, &nm); err != nil {
		return nil, Names{}, fmt.Errorf("recorded names of %s: %w", n, err)
	}
	return &s, nm, nil
}

func writeShape(ctx context.Context, tx pgx.Tx, n schema.Name, s Shape, names Names, hash string) error {
	shape, err := json.Marshal(s)
	if err != nil {
		return err
	}
	nm, err := json.Marshal(names)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, queries.ShapeWrite, n.Schema, n.Name, shape, nm, hash)
	return err
}
