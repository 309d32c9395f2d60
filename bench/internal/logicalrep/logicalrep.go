// Package logicalrep sets up PostgreSQL's native logical replication between two databases,
// the baseline pgfanout is compared with: a publication and a slot on the source, and a
// subscription on the replica, created disabled so that a backlog can be written first and
// its drain timed from Enable.
package logicalrep

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Config describes a subscription.
type Config struct {
	Name     string           // of the publication, the slot and the subscription: [a-z0-9_] (a slot's)
	Tables   []pgx.Identifier // published tables, which must exist on both sides
	ConnInfo string           // libpq conninfo of the source, as the replica's apply worker connects
	// CopyData copies the tables' existing rows when the subscription is first enabled (the
	// initial sync of a bootstrap); off, only changes after the slot's creation travel.
	CopyData bool
}

// Subscription is a subscription created by Create.
type Subscription struct {
	name    string
	replica *pgx.Conn
}

// Create publishes cfg.Tables on source, creates the slot there, and creates the subscription,
// disabled, on replica. The slot is made first because a subscription whose source is in the
// same cluster cannot create its own (CREATE SUBSCRIPTION would wait for its own transaction).
// The connections stay the caller's; Enable and Disable use replica.
func Create(ctx context.Context, source, replica *pgx.Conn, cfg Config) (*Subscription, error) {
	if len(cfg.Tables) == 0 {
		return nil, fmt.Errorf("subscription %s: no tables", cfg.Name)
	}
	name := pgx.Identifier{cfg.Name}.Sanitize()
	tables := ""
	for i, t := range cfg.Tables {
		if i > 0 {
			tables += ", "
		}
		tables += t.Sanitize()
	}
	if _, err := source.Exec(ctx, `CREATE PUBLICATION `+name+` FOR TABLE `+tables); err != nil {
		return nil, fmt.Errorf("create publication %s: %w", cfg.Name, err)
	}
	if _, err := source.Exec(ctx, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, cfg.Name); err != nil {
		return nil, fmt.Errorf("create slot %s: %w", cfg.Name, err)
	}
	// CREATE SUBSCRIPTION takes no parameters: the server quotes the values into the statement.
	var create string
	if err := replica.QueryRow(ctx, `SELECT format('CREATE SUBSCRIPTION %I CONNECTION %L PUBLICATION %I
		WITH (create_slot = false, slot_name = %L, enabled = false, copy_data = %s)', $1::text, $2::text, $1, $1, $3::boolean::text)`,
		cfg.Name, cfg.ConnInfo, cfg.CopyData).Scan(&create); err != nil {
		return nil, fmt.Errorf("create subscription %s: %w", cfg.Name, err)
	}
	if _, err := replica.Exec(ctx, create); err != nil {
		return nil, fmt.Errorf("create subscription %s: %w", cfg.Name, err)
	}
	return &Subscription{name: name, replica: replica}, nil
}

// Enable starts the apply worker: it drains what the slot holds, then follows the source.
func (s *Subscription) Enable(ctx context.Context) error {
	if _, err := s.replica.Exec(ctx, `ALTER SUBSCRIPTION `+s.name+` ENABLE`); err != nil {
		return fmt.Errorf("enable subscription %s: %w", s.name, err)
	}
	return nil
}

// Disable stops the apply worker; the slot keeps what arrives meanwhile.
func (s *Subscription) Disable(ctx context.Context) error {
	if _, err := s.replica.Exec(ctx, `ALTER SUBSCRIPTION `+s.name+` DISABLE`); err != nil {
		return fmt.Errorf("disable subscription %s: %w", s.name, err)
	}
	return nil
}
