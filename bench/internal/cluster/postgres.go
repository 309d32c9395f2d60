// Package cluster gives benchmarks their servers: private PostgreSQL clusters and RabbitMQ
// nodes in temporary directories (internal/localserver starts them), throwaway databases on a
// shared server, and the server settings a report names.
package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pgfanout/pgfanout/internal/localserver"
)

// Durable are the settings of a server that flushes like production: localserver turns
// fsync off for tests, benchmarks that compare with the shared server want it back on.
func Durable() []string { return []string{"fsync=on", "synchronous_commit=on"} }

// Logical are the settings native logical replication needs (wal_level needs a restart,
// which the shared server must never get). The launcher restarts a subscription's apply
// worker no sooner than wal_retrieve_retry_interval (5 s by default) after its last start,
// so each re-enable of a subscription would wait for it. A later setting of the same name
// wins, so callers can append e.g. "max_wal_senders=10".
func Logical() []string {
	return []string{"wal_level=logical", "max_wal_senders=4", "max_replication_slots=4",
		"wal_retrieve_retry_interval=100ms"}
}

// Postgres is a private PostgreSQL cluster in a temporary directory of its own, which Close
// removes.
type Postgres struct {
	server *localserver.Postgres
	dir    string
}

// StartPostgres initialises and starts a cluster with these name=value settings (see
// Durable and Logical).
func StartPostgres(ctx context.Context, settings ...string) (*Postgres, error) {
	dir, err := os.MkdirTemp("", "bench-pg-")
	if err != nil {
		return nil, fmt.Errorf("private PostgreSQL: %w", err)
	}
	s, err := localserver.StartPostgres(ctx, filepath.Join(dir, "pg"), settings...)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("private PostgreSQL: %w", err)
	}
	return &Postgres{server: s, dir: dir}, nil
}

// URL is the connection URL of database db as the postgres superuser.
func (p *Postgres) URL(db string) string { return p.server.URL(db) }

// ConnInfo is the libpq keyword form of URL(db), as CREATE SUBSCRIPTION takes it.
func (p *Postgres) ConnInfo(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s user=postgres", p.server.Port, db)
}

// PostmasterPID is the server's main process, the parent of every backend: the root of the
// process tree a CPU sampler accounts to this cluster.
func (p *Postgres) PostmasterPID() (int, error) {
	// The first line of postmaster.pid is the PID (localserver keeps the data in Dir/data).
	b, err := os.ReadFile(filepath.Join(p.server.Dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("postmaster PID: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, fmt.Errorf("postmaster PID: %q: %w", first, err)
	}
	return pid, nil
}

// Close stops the server at once and removes its directory.
func (p *Postgres) Close() {
	_ = p.server.Kill()
	_ = os.RemoveAll(p.dir)
}
