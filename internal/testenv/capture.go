package testenv

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/internal/migrate"
)

// NewCaptureDatabase creates a database (dropped when the test ends) with pgfanout's capture
// migrations applied, as `publisher migrate` would, and returns its URL.
func NewCaptureDatabase(t testing.TB) string {
	t.Helper()
	dbURL := NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := migrate.Up(ctx, dbURL, zerolog.Nop()); err != nil {
		t.Fatalf("apply capture migrations: %v", err)
	}
	return dbURL
}

// NewRole creates a LOGIN role with a unique name and the given extra attributes (e.g.
// "NOINHERIT"; empty for none) and returns its name and dbURL with that role as the user.
// Roles are cluster-wide: when the test ends the role's objects and privileges in dbURL's
// database are dropped (DROP OWNED), then the role. Register it after the database, so that
// this cleanup runs while the database still exists.
func NewRole(t testing.TB, dbURL, attrs string) (name, roleURL string) {
	t.Helper()
	name = UniqueName("pgfanout_role")
	captureExec(t, dbURL, "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN "+attrs)
	t.Cleanup(func() {
		q := pgx.Identifier{name}.Sanitize()
		captureExec(t, dbURL, "DROP OWNED BY "+q)
		captureExec(t, dbURL, "DROP ROLE "+q)
	})
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("parse database URL: %v", err)
	}
	u.User = url.User(name)
	return name, u.String()
}

func captureExec(t testing.TB, dbURL, sql string) {
	t.Helper()
	if err := execOnce(dbURL, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
