package apply

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// sessionSettings make the replica parse and print values the way the capture printed them:
// money was captured in the C locale, dates in ISO order; images and keys are compared as text
// output, so everything that shapes text output is pinned.
var sessionSettings = map[string]string{
	"lc_monetary":        "C",
	"DateStyle":          "ISO, YMD",
	"IntervalStyle":      "postgres",
	"TimeZone":           "UTC",
	"extra_float_digits": "3",
	"bytea_output":       "hex",
}

// sessionDefaults apply unless the replica URL sets them: a batch sorts whole rows (DISTINCT ON
// per key), which spills to disk with the 4MB default work_mem.
var sessionDefaults = map[string]string{
	"application_name": "pgfanout-replicator",
	"work_mem":         "64MB",
}

// PoolConfig parses the replica URL and pins the session settings the apply path relies on.
func PoolConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse replica URL: %w", err)
	}
	params := cfg.ConnConfig.RuntimeParams
	for k, v := range sessionDefaults {
		if _, set := params[k]; !set {
			params[k] = v
		}
	}
	for k, v := range sessionSettings {
		params[k] = v
	}
	return cfg, nil
}
