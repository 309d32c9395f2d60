package status

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

//go:embed backlog.sql
var backlogSQL string

//go:embed lease.sql
var leaseSQL string

// Querier runs the status queries (a connection, or a pool).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readSource reads the lease and the change log.
func readSource(ctx context.Context, q Querier, cfg Config) (*Lease, *ChangeLog, error) {
	ctx, cancel := cfg.Liveness.WithDefaults().Call(ctx)
	defer cancel()
	var (
		l                      Lease
		holder, host           *string
		pid                    *int32
		acquired, renewed      *time.Time
		expires                pgtype.Timestamptz
		unexpired, sessionLive bool
	)
	err := q.QueryRow(ctx, leaseSQL).Scan(&l.Term, &holder, &host, &pid, &acquired, &renewed, &expires, &unexpired, &sessionLive)
	if err != nil {
		return nil, nil, fmt.Errorf("read the leader lease (pgfanout.leader): %w%s", err, hint(err))
	}
	l.Holder, l.Host, l.AcquiredAt, l.RenewedAt = deref(holder), deref(host), acquired, renewed
	if pid != nil {
		l.PID = int(*pid)
	}
	if expires.Valid && expires.InfinityModifier == pgtype.Finite {
		l.ExpiresAt = &expires.Time
	}
	l.Held = unexpired && sessionLive
	l.Crashed = unexpired && !sessionLive
	var c ChangeLog
	if err := q.QueryRow(ctx, backlogSQL).Scan(&c.Entries, &c.Changes, &c.Oldest, &c.OldestAge); err != nil {
		return &l, nil, fmt.Errorf("read the change log (pgfanout.backlog): %w%s", err, hint(err))
	}
	return &l, &c, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
