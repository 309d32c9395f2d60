package logicalrep

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Drop removes what Create made under name: the subscription on replica, then the slot and
// the publication on source. The subscription is detached from its slot first, so that
// dropping it needs no connection to the source, and the slot is dropped once the source's
// walsender has let go of it (it may outlive the apply worker for a moment).
func Drop(ctx context.Context, source, replica *pgx.Conn, name string) error {
	sub := pgx.Identifier{name}.Sanitize()
	for _, s := range []string{
		`ALTER SUBSCRIPTION ` + sub + ` DISABLE`,
		`ALTER SUBSCRIPTION ` + sub + ` SET (slot_name = NONE)`,
		`DROP SUBSCRIPTION ` + sub,
	} {
		if _, err := replica.Exec(ctx, s); err != nil {
			return fmt.Errorf("drop subscription %s: %s: %w", name, s, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		var active bool
		err := source.QueryRow(ctx, `SELECT active FROM pg_replication_slots WHERE slot_name = $1`, name).Scan(&active)
		if err == pgx.ErrNoRows {
			break
		}
		if err != nil {
			return fmt.Errorf("drop slot %s: %w", name, err)
		}
		if !active {
			if _, err := source.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, name); err != nil {
				return fmt.Errorf("drop slot %s: %w", name, err)
			}
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drop slot %s: still active: %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond): // the walsender exits within moments
		}
	}
	if _, err := source.Exec(ctx, `DROP PUBLICATION `+sub); err != nil {
		return fmt.Errorf("drop publication %s: %w", name, err)
	}
	return nil
}
