package apply

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/liveness"
)

// sessionDefaults apply unless the replica URL sets them: a batch sorts whole rows (DISTINCT ON
// per key), which spills to disk with the 4MB default work_mem.
func sessionDefaults() map[string]string {
	return map[string]string{
		"application_name": "pgfanout-replicator",
		"work_mem":         "64MB",
	}
}

// PoolConfig parses the replica URL and pins change.ValueSettings, which the apply path relies
// on: rows are parsed, and images and keys compared as text, the way the capture printed them.
// Connections follow live: keepalives, TCP_USER_TIMEOUT, a connect timeout, and a ping
// bounded by live.Timeout whenever a connection idle for a second is taken from the pool.
func PoolConfig(url string, live liveness.Settings) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse replica URL: %w", err)
	}
	live = live.WithDefaults()
	live.PG(&cfg.ConnConfig.Config)
	cfg.PingTimeout = live.Timeout
	params := cfg.ConnConfig.RuntimeParams
	for k, v := range sessionDefaults() {
		if _, set := params[k]; !set {
			params[k] = v
		}
	}
	for k, v := range change.ValueSettings() {
		params[k] = v
	}
	return cfg, nil
}
