package publish

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	queries "github.com/pgfanout/pgfanout/sql"
)

// autoTrackEvery is how often the leader asks the source to track the tables created in
// tracked schemas (docs/capture.md, Tracking whole schemas). An idle leader asks once per
// --poll-interval, when it wakes. Rows written to a new table before that are not captured:
// replicators with --source-url copy the table once it is tracked (docs/bootstrap.md).
const autoTrackEvery = time.Second

// autoTrack is the state of the tracking passes in this term.
type autoTrack struct {
	at      time.Time
	off     bool              // the source cannot run them: schemas are not followed
	skipped map[string]string // tables the source could not track, with the reason already logged
}

// trackNewTables runs the source's pass when it is due: pgfanout.track_new_tables(), a SECURITY
// DEFINER function that tracks the new tables as the capture owner and reports those it
// cannot. A source without the function (capture older than migration 6) or a publisher role
// without EXECUTE on it only turns the passes off, with a warning. A pass that fails on the
// server is logged and tried again; only a failed connection ends the term, as a fetch would.
func (t *term) trackNewTables() error {
	a := &t.autoTrack
	if a.off || time.Since(a.at) < autoTrackEvery {
		return nil
	}
	a.at = time.Now()
	ctx, cancel := t.p.cfg.Liveness.Call(t.work)
	defer cancel()
	rows, _ := t.conn.Query(ctx, queries.TrackNewTables)
	type result struct {
		Table   string
		Tracked bool
		Reason  *string
	}
	results, err := pgx.CollectRows(rows, pgx.RowToStructByPos[result])
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && (pgErr.Code == "42501" || pgErr.Code == "42883"):
		a.off = true
		t.p.log.Warn().Err(err).
			Str("hint", "run `publisher migrate` and GRANT EXECUTE ON FUNCTION pgfanout.track_new_tables() TO the publisher role").
			Msg("cannot track the tables created in tracked schemas; track them by hand with pgfanout.track()")
		return nil
	case errors.As(err, &pgErr):
		t.p.log.Warn().Err(err).Msg("tracking the tables created in tracked schemas failed; trying again")
		return nil
	case err != nil:
		return fmt.Errorf("track the tables created in tracked schemas: %w", err)
	}
	for _, r := range results {
		if r.Tracked {
			delete(a.skipped, r.Table)
			t.p.log.Info().Str("table", r.Table).Msg("tracking a table created in a tracked schema")
			continue
		}
		reason := ""
		if r.Reason != nil {
			reason = *r.Reason
		}
		if a.skipped == nil {
			a.skipped = map[string]string{}
		}
		if a.skipped[r.Table] != reason {
			a.skipped[r.Table] = reason
			t.p.log.Warn().Str("table", r.Table).Str("reason", reason).
				Msg("cannot track a table created in a tracked schema; tried again on every pass (SELECT * FROM pgfanout.untracked_tables())")
		}
	}
	return nil
}
