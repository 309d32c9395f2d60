package publish

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/changelog"
)

// monitor refreshes the backlog and NOTIFY-queue gauges on a connection of its own: the
// backlog count scans the change log and must not hold up the leader's connection.
func (p *Publisher) monitor(ctx context.Context) error {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			closeConn(conn)
		}
	}()
	tick := time.NewTicker(p.cfg.StatsInterval)
	defer tick.Stop()
	for {
		conn = p.refreshStats(ctx, conn)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// refreshStats reads the gauges, (re)connecting when needed; failures only leave the gauges
// stale, the lease and listener connections report outages.
func (p *Publisher) refreshStats(ctx context.Context, conn *pgx.Conn) *pgx.Conn {
	qctx, cancel := p.cfg.Liveness.Call(ctx)
	defer cancel()
	if conn == nil {
		var err error
		if conn, err = p.connect(qctx, monitorAppName); err != nil {
			p.log.Debug().Err(err).Msg("stats connection failed")
			return nil
		}
	}
	st, err := changelog.ReadStats(qctx, conn)
	if err != nil {
		p.log.Debug().Err(err).Msg("read stats failed")
		closeConn(conn)
		return nil
	}
	p.m.backlog.Set(float64(st.Backlog))
	p.m.notifyUsage.Set(st.NotifyQueueUsage)
	return conn
}
