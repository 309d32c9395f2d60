package testenv

import (
	"context"
	"errors"
	"testing"

	"github.com/pgfanout/pgfanout/internal/localserver"
)

// PGBinDirEnv names the directory holding initdb and pg_ctl (scripts/test-services.sh sets it).
const PGBinDirEnv = localserver.PGBinDirEnv

// ErrNoPostgres means no PostgreSQL server binaries were found.
var ErrNoPostgres = localserver.ErrNoPostgres

// Postgres is a private PostgreSQL instance (see localserver.Postgres) with the testing.TB
// flavoured API tests use. Stop and Start keep the data, so a client can see the server
// restart.
type Postgres struct {
	URL    string // admin URL of database postgres
	server *localserver.Postgres
}

// StartPostgres starts a private instance in t.TempDir, stopped when the test ends; settings
// are extra name=value server settings (e.g. "wal_level=logical"). The test is skipped if no
// PostgreSQL server binaries are installed.
func StartPostgres(t testing.TB, settings ...string) *Postgres {
	t.Helper()
	p, err := NewPostgres(t.TempDir(), settings...)
	if errors.Is(err, ErrNoPostgres) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewPostgres initializes and starts an instance in dir (which must hold no previous
// instance). Close stops it; removing dir is the caller's business. It needs no testing.TB,
// so benchmarks outside `go test` use it too.
func NewPostgres(dir string, settings ...string) (*Postgres, error) {
	s, err := localserver.StartPostgres(context.Background(), dir, settings...)
	if err != nil {
		return nil, err
	}
	return &Postgres{URL: s.URL("postgres"), server: s}, nil
}

// Stop shuts the server down (fast mode: open sessions are disconnected).
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	if err := p.server.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Start starts the stopped server on its port with its data and settings.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if err := p.server.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Close stops the server at once if it runs; a server already stopped is no error.
func (p *Postgres) Close() { _ = p.server.Kill() }
