// Package bootstrap copies the source's tracked tables into a replica while the stream goes
// on, exactly (docs/bootstrap.md): every tracked table the replica has never copied, in
// primary-key chunks each read in a source snapshot of its own and applied in one replica
// transaction; a table tracked anew, or resynced, is copied again. The copy's state lives in
// the replica's pgfanout schema, so any number of copiers (replicator processes) share the work,
// and a copier that dies leaves its chunk to the next.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/sourcegraph/conc/pool"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/follow"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/retry"
	"github.com/pgfanout/pgfanout/internal/source"
)

// Copy states of a table (pgfanout.copy_tables.state) and of a chunk (copy_chunks.state).
const (
	StatePlanning = "planning" // to be planned: new, tracked anew, or resync requested
	StateCopying  = "copying"  // planned; chunks being copied
	StateDone     = "done"     // every chunk of the current plan copied
	StateFailed   = "failed"   // cannot be copied until fixed (reason says why); resync retries
	ChunkPending  = "pending"
	ChunkDone     = "done"
	ChunkSkipped  = "skipped" // copied before a truncate the replica already applied: nothing to write
)

// Config configures a Copier. Zero fields take the defaults of withDefaults.
type Config struct {
	SourceURL string
	// Match selects the tables to copy, by the names the source tracks them under.
	Match      func(schema, table string) bool
	ChunkRows  int           // rows per chunk at most (default 10000)
	ChunkBytes int64         // estimated bytes per chunk at most (default 32 MiB)
	Workers    int           // chunks copied at once (default 1; the replicator passes its --copy-workers)
	Discover   time.Duration // how often the source's tracked tables are listed again (default 10 s)
	// ChunkTimeout bounds reading one chunk from the source and applying it (default 2 min).
	ChunkTimeout time.Duration
	Name         string // who copies, recorded with each chunk (copied_by)
	Liveness     liveness.Settings
	// CreateTables creates a tracked table the replica lacks before copying it, and FollowDDL
	// follows the source tables' shape changes (internal/follow, docs/schema.md).
	CreateTables bool
	FollowDDL    bool
}

func (c Config) withDefaults() Config {
	if c.ChunkRows <= 0 {
		c.ChunkRows = 10000
	}
	if c.ChunkBytes <= 0 {
		c.ChunkBytes = 32 << 20
	}
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.Discover <= 0 {
		c.Discover = 10 * time.Second
	}
	if c.ChunkTimeout <= 0 {
		c.ChunkTimeout = 2 * time.Minute
	}
	if c.Match == nil {
		c.Match = func(string, string) bool { return true }
	}
	c.Liveness = c.Liveness.WithDefaults()
	return c
}

// Copier copies tables into one replica.
type Copier struct {
	cfg     Config
	src     *source.Source
	rep     *pgxpool.Pool
	applier *apply.Applier
	log     zerolog.Logger
	m       *metrics
	wake    chan struct{} // buffered (1): look for tables to copy now
	work    chan struct{} // buffered (Workers): chunks were planned
	defs    defs
	follow  *follow.Follower // nil unless CreateTables or FollowDDL
	stopped atomic.Pointer[[]Progress]
}

// New builds a Copier writing through applier (and its pool); metrics go to reg (none when
// nil). It opens the source pool lazily.
func New(cfg Config, applier *apply.Applier, log zerolog.Logger, reg prometheus.Registerer) (*Copier, error) {
	cfg = cfg.withDefaults()
	if cfg.SourceURL == "" {
		return nil, errors.New("bootstrap: a source URL is required")
	}
	src, err := source.Open(context.Background(), cfg.SourceURL, cfg.Liveness, cfg.Workers+1)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	c := &Copier{cfg: cfg, src: src, rep: applier.Pool(), applier: applier, log: log, m: m,
		wake: make(chan struct{}, 1), work: make(chan struct{}, cfg.Workers)}
	if cfg.CreateTables || cfg.FollowDDL {
		c.follow = follow.New(follow.Config{Create: cfg.CreateTables, Follow: cfg.FollowDDL}, src, applier, c,
			log.With().Str("component", "schema").Logger(), follow.NewMetrics(reg))
	}
	return c, nil
}

// Follower is the copier's schema follower, nil when neither creating nor following tables.
func (c *Copier) Follower() *follow.Follower { return c.follow }

// Run copies until ctx ends. It starts once ready is closed: the replica's queue must be
// declared and bound before the first row is read, so that no change can fall between the
// copy and the stream (docs/bootstrap.md).
func (c *Copier) Run(ctx context.Context, ready <-chan struct{}) error {
	defer c.src.Close()
	select {
	case <-ready:
	case <-ctx.Done():
		return nil
	}
	down := retry.Tracker{Log: c.log.With().Str("connection", "copy").Logger(), Target: "replica"}
	if _, err := retry.Until(ctx, &down, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, c.applier.Prepare(ctx)
	}); err != nil {
		return nil
	}
	c.log.Info().Msg("copier starting: copying the tracked tables this replica has not copied")
	g := pool.New().WithErrors().WithContext(ctx)
	g.Go(c.discoverLoop)
	for i := 0; i < c.cfg.Workers; i++ {
		g.Go(c.copyLoop)
	}
	g.Go(c.progressLoop)
	if c.follow != nil {
		g.Go(func(ctx context.Context) error { return c.follow.Run(ctx, c.cfg.Discover, c.cfg.Match) })
	}
	return g.Wait()
}

// Wake makes the copier look for work now (a resync was requested).
func (c *Copier) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// notify tells idle copy workers that chunks were planned.
func (c *Copier) notify() {
	for i := 0; i < c.cfg.Workers; i++ {
		select {
		case c.work <- struct{}{}:
		default:
		}
	}
}

func (c *Copier) workc() <-chan struct{} { return c.work }

// discoverLoop lists the source's tracked tables and plans the new ones, every Discover.
func (c *Copier) discoverLoop(ctx context.Context) error {
	down := retry.Tracker{Log: c.log.With().Str("connection", "copy").Logger(), Target: "source or replica"}
	for {
		if err := c.discover(ctx); err != nil && ctx.Err() == nil {
			if err := retry.Sleep(ctx, down.Fail(err)); err != nil {
				return nil
			}
			continue
		}
		down.OK()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(c.cfg.Discover):
		case <-c.wake:
		}
	}
}
