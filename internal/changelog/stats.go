package changelog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	queries "github.com/pgfanout/pgfanout/sql"
)

// Stats are the source-side gauges the publisher exports.
type Stats struct {
	Backlog          int64   // changes captured and not yet confirmed
	NotifyQueueUsage float64 // pg_notification_queue_usage(), 0..1
}

// ReadStats reads Stats on conn. Counting the backlog scans the change log, so callers run
// it on a connection of its own and not on every batch.
func ReadStats(ctx context.Context, conn *pgx.Conn) (Stats, error) {
	var st Stats
	if err := conn.QueryRow(ctx, queries.SourceStats).Scan(&st.Backlog, &st.NotifyQueueUsage); err != nil {
		return st, fmt.Errorf("read source stats: %w", err)
	}
	return st, nil
}
