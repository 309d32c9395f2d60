package bootstrap

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/source"
	queries "github.com/pgfanout/pgfanout/sql"
)

// Tracked lists the source's tracked tables that Match selects.
func (c *Copier) Tracked(ctx context.Context) ([]source.Tracked, error) {
	all, err := c.src.Tracked(ctx)
	if err != nil {
		return nil, err
	}
	var out []source.Tracked
	for _, t := range all {
		if c.cfg.Match(t.Schema, t.Table) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Resync requests a new copy of tables (`replicator resync`): each is planned again and copied
// through the same exact path as a first copy, while the stream goes on (docs/bootstrap.md).
// Any copier of the replica, this one or a running replicator's, takes the work.
func (c *Copier) Resync(ctx context.Context, tables []source.Tracked) error {
	if err := c.applier.Prepare(ctx); err != nil {
		return err
	}
	for _, t := range tables {
		if err := c.exec(ctx, queries.CopyRequest, t.Schema, t.Table, t.Epoch, StatePlanning); err != nil {
			return fmt.Errorf("request a copy of %s: %w", pgx.Identifier{t.Schema, t.Table}.Sanitize(), err)
		}
	}
	c.Wake()
	return nil
}

// ErrNotTracked: the source does not track the table (any more).
var ErrNotTracked = errors.New("the source does not track the table")

// ResyncStale requests a new copy of schema.table because a change of it arrived below the
// replica's bookkeeping horizon (docs/bookkeeping.md), unless a plan of it is pending already.
func (c *Copier) ResyncStale(ctx context.Context, schema, table string) error {
	name := pgx.Identifier{schema, table}.Sanitize()
	tracked, err := c.Tracked(ctx)
	if err != nil {
		return err
	}
	for _, t := range tracked {
		if t.Schema == schema && t.Table == table {
			if err := c.exec(ctx, queries.CopyRequestStale, t.Schema, t.Table, t.Epoch, StatePlanning); err != nil {
				return fmt.Errorf("request a copy of %s: %w", name, err)
			}
			c.Wake()
			return nil
		}
	}
	return fmt.Errorf("%s: %w", name, ErrNotTracked)
}
