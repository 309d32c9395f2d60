// Package verify compares the tracked tables of a replica with the source (`replicator
// verify`, docs/bootstrap.md "Verify"), without locks: both databases hash each primary-key
// range of a table in the database, and only a range whose hashes differ is read key by key.
// Keys that differ are re-checked while the stream goes on, so rows still in flight are not
// reported; with Repair, the ranges that still differ are copied again through the exact copy
// path (apply.ApplyChunk), then verified again.
package verify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/redact"
	"github.com/pgfanout/pgfanout/internal/source"
)

// AppName is how verify's connections show in pg_stat_activity (unless the URL names one).
const AppName = "pgfanout-replicator-verify"

// Config configures a Verifier. Zero fields take the defaults of withDefaults.
type Config struct {
	SourceURL, ReplicaURL string
	// Match selects the tables to compare, by the names the source tracks them under.
	Match     func(schema, table string) bool
	ChunkRows int // rows per compared range at most (default 10000)
	// Workers is how many statements each side runs at once, each on a connection of its own
	// (default 2); twice as many ranges are under way, so that neither side waits for the other.
	Workers int
	MaxKeys int // differing keys listed per table (default 10; negative: none)
	// Recheck is how long differing keys are re-checked for (0: never; every difference seen
	// is reported); RecheckEvery how often (default 1 s).
	Recheck      time.Duration
	RecheckEvery time.Duration
	Repair       bool   // copy the ranges that differ again, then verify them again
	Name         string // who repairs, recorded with each chunk copied (copied_by)
	// ChunkTimeout bounds repairing one range: reading it from the source and applying it
	// (default 2 min).
	ChunkTimeout time.Duration
	Liveness     liveness.Settings
}

func (c Config) withDefaults() Config {
	if c.ChunkRows <= 0 {
		c.ChunkRows = 10000
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = 10
	}
	if c.RecheckEvery <= 0 {
		c.RecheckEvery = time.Second
	}
	if c.ChunkTimeout <= 0 {
		c.ChunkTimeout = 2 * time.Minute
	}
	if c.Name == "" {
		c.Name = "pgfanout-replicator verify"
	}
	if c.Match == nil {
		c.Match = func(string, string) bool { return true }
	}
	c.Liveness = c.Liveness.WithDefaults()
	return c
}

// Verifier compares one replica with the source.
type Verifier struct {
	cfg      Config
	log      zerolog.Logger
	src      *source.Source // tables, definitions, chunk bounds, and the rows a repair copies
	srcSide  *side          // the source's hashes, each range in a snapshot of its own
	repSide  *side
	rep      *pgxpool.Pool
	applier  *apply.Applier
	progress progress
}

// New builds a Verifier; its pools connect lazily. Close it when done.
func New(cfg Config, log zerolog.Logger) (*Verifier, error) {
	cfg = cfg.withDefaults()
	if cfg.SourceURL == "" || cfg.ReplicaURL == "" {
		return nil, errors.New("verify: a source URL and a replica URL are required")
	}
	conns := cfg.Workers
	src, err := source.Open(context.Background(), cfg.SourceURL, cfg.Liveness, 2)
	if err != nil {
		return nil, err
	}
	srcPool, err := sourcePool(cfg.SourceURL, cfg.Liveness, conns)
	if err != nil {
		src.Close()
		return nil, err
	}
	repPool, err := replicaPool(cfg.ReplicaURL, cfg.Liveness, conns+1)
	if err != nil {
		src.Close()
		srcPool.Close()
		return nil, err
	}
	return &Verifier{cfg: cfg, log: log, src: src,
		srcSide: &side{name: "source", pool: srcPool, snapshot: true, live: cfg.Liveness},
		repSide: &side{name: "replica", pool: repPool, live: cfg.Liveness},
		rep:     repPool, applier: apply.New(repPool)}, nil
}

// Close closes the pools.
func (v *Verifier) Close() {
	v.src.Close()
	v.srcSide.pool.Close()
	v.rep.Close()
}

// sourcePool is a pool of read-only sessions on the source that print values as the capture
// does (change.ValueSettings), as internal/source's own pool is.
func sourcePool(url string, live liveness.Settings, conns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse source URL %s: %w", redact.URL(url), err)
	}
	live.PG(&cfg.ConnConfig.Config)
	cfg.PingTimeout = live.Timeout
	cfg.MaxConns = int32(conns)
	params := cfg.ConnConfig.RuntimeParams
	if _, set := params["application_name"]; !set {
		params["application_name"] = AppName
	}
	for k, v := range change.ValueSettings() {
		params[k] = v
	}
	params["default_transaction_read_only"] = "on"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("source pool: %w", err)
	}
	return pool, nil
}

// replicaPool is a pool on the replica with the apply path's session settings (apply.PoolConfig
// pins change.ValueSettings), which a repair writes through.
func replicaPool(url string, live liveness.Settings, conns int) (*pgxpool.Pool, error) {
	cfg, err := apply.PoolConfig(url, live)
	if err != nil {
		return nil, err
	}
	if plain, err := pgconn.ParseConfig(url); err == nil {
		if _, set := plain.RuntimeParams["application_name"]; !set {
			cfg.ConnConfig.RuntimeParams["application_name"] = AppName
		}
	}
	cfg.MaxConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("replica pool: %w", err)
	}
	return pool, nil
}

// Phases of a run, as Progress reports them.
const (
	PhasePlanning   = "planning"
	PhaseComparing  = "comparing"
	PhaseRechecking = "re-checking"
	PhaseRepairing  = "repairing"
	PhaseDone       = "done"
)

// Progress is how far a run is.
type Progress struct {
	Phase              string
	Tables, TablesDone int   // tables selected, and compared (or found not comparable)
	Chunks, ChunksDone int   // ranges planned and compared
	Rows               int64 // source rows compared
	Candidates         int   // differing keys (or images) being re-checked
	Rechecks           int   // re-checks done (in this phase)
	Started            time.Time
}

type progress struct {
	mu sync.Mutex
	p  Progress
}

func (p *progress) update(f func(*Progress)) {
	p.mu.Lock()
	f(&p.p)
	p.mu.Unlock()
}

// Progress reports how far the run is; safe to call while it runs.
func (v *Verifier) Progress() Progress {
	v.progress.mu.Lock()
	defer v.progress.mu.Unlock()
	return v.progress.p
}
