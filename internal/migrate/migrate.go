// Package migrate applies pgfanout's embedded capture migrations with golang-migrate.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/migrations"
)

// VersionTable records the applied migration version. It is not golang-migrate's default
// (schema_migrations) so that an application already using golang-migrate on the same
// database keeps its own history, and its advisory lock, untouched.
const VersionTable = "pgfanout_schema_migrations"

// lockTimeout bounds the wait for a concurrent `publisher migrate`; our migrations take
// well under a second, so a longer wait means something is stuck.
const lockTimeout = time.Minute

// Up applies every embedded migration not yet recorded in the database at sourceURL
// (a postgres:// URL or a key=value connection string). It runs under golang-migrate's
// advisory lock, so concurrent calls are safe; when nothing is pending it changes nothing.
func Up(ctx context.Context, sourceURL string, log zerolog.Logger) error {
	db, err := sql.Open("pgx", sourceURL)
	if err != nil {
		return fmt.Errorf("migrate: open source database: %w", err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("migrate: connect to source database: %w", err)
	}
	m, err := newMigrate(db, log)
	if err != nil {
		return err
	}
	defer m.Close()
	return run(ctx, m, log)
}

func newMigrate(db *sql.DB, log zerolog.Logger) (*migrate.Migrate, error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("migrate: read embedded migrations: %w", err)
	}
	drv, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{MigrationsTable: VersionTable})
	if err != nil {
		_ = src.Close()
		return nil, fmt.Errorf("migrate: prepare version table %s: %w", VersionTable, err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		_ = src.Close()
		_ = drv.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	m.Log = logger{log: log}
	m.LockTimeout = lockTimeout
	return m, nil
}

func run(ctx context.Context, m *migrate.Migrate, log zerolog.Logger) error {
	// golang-migrate has no context; GracefulStop makes it stop between two migrations.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			m.GracefulStop <- true
		case <-done:
		}
	}()
	// Versions are read only after Up: before it, without the lock, a concurrent run could be
	// seen in the middle of a migration (marked dirty while it runs).
	err := m.Up()
	var dirty migrate.ErrDirty
	switch {
	case errors.As(err, &dirty):
		// Every migration file runs in one transaction, so a failed attempt left no changes
		// behind; only an operator can confirm that before forcing the version back.
		return fmt.Errorf("migrate: version %d is marked dirty in %s (a previous attempt failed); "+
			"after checking its changes were rolled back, run: %s", dirty.Version, VersionTable, forceBack(dirty.Version))
	case errors.Is(err, migrate.ErrNoChange):
		v, err := version(m)
		log.Info().Uint("version", v).Msg("capture schema is up to date")
		return err
	case err != nil:
		return fmt.Errorf("migrate: apply migrations: %w", err)
	}
	v, err := version(m)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("migrate: stopped at version %d: %w", v, ctx.Err())
	}
	log.Info().Uint("to_version", v).Msg("applied capture migrations")
	return nil
}

// version is the recorded version, 0 before the first migration.
func version(m *migrate.Migrate) (uint, error) {
	v, _, err := m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("migrate: read version from %s: %w", VersionTable, err)
	}
	return v, nil
}

// forceBack is the SQL that records the version before v, as `migrate force` would.
func forceBack(v int) string {
	if v <= 1 {
		return "DELETE FROM " + VersionTable
	}
	return fmt.Sprintf("UPDATE %s SET version = %d, dirty = false", VersionTable, v-1)
}

// logger adapts zerolog to golang-migrate, which logs each migration it runs.
type logger struct {
	log zerolog.Logger
}

func (l logger) Printf(format string, v ...any) {
	l.log.Info().Msgf("migrate: "+strings.TrimSuffix(format, "\n"), v...)
}

func (l logger) Verbose() bool { return l.log.GetLevel() <= zerolog.DebugLevel }
