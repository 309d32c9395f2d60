package cluster

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/pgadmin"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// NewDatabase creates a database named prefix plus random hex on adminURL's server and runs
// ddl in it, one statement string after the other. The caller drops it (Drop ends the
// sessions still connected).
func NewDatabase(ctx context.Context, adminURL, prefix string, ddl ...string) (*pgadmin.Database, error) {
	db, err := pgadmin.Create(ctx, adminURL, testenv.UniqueName(prefix))
	if err != nil {
		return nil, err
	}
	for _, s := range ddl {
		if err := pgadmin.Exec(ctx, db.URL, s); err != nil {
			_ = db.Drop(context.Background())
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	return db, nil
}

// Settings reads the named server settings (current_setting) in one round trip, in order.
func Settings(ctx context.Context, conn *pgx.Conn, names ...string) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT current_setting(n) FROM unnest($1::text[]) WITH ORDINALITY AS s(n, i) ORDER BY i`, names)
	if err != nil {
		return nil, fmt.Errorf("read server settings: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read server settings: %w", err)
	}
	return out, nil
}
