package publish

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// lowWaterEvery is how often a leader with work advances the source's low-water mark: often
// enough that replicas prune within a few seconds of their horizon, rarely enough to cost the
// source nothing (one short transaction a second).
const lowWaterEvery = time.Second

// lowWater is the mark as this term last advanced it; messages carry it (docs/messages.md).
type lowWater struct {
	mark int64
	at   time.Time
	off  bool // the source cannot advance it: messages go unstamped and replicas keep everything
}

// advanceLowWater advances the mark when it is due. A source without the function (capture
// older than migration 5) or a publisher role without EXECUTE on it only turns stamping off,
// with a warning: replicas then keep their bookkeeping instead of pruning it.
func (t *term) advanceLowWater() error {
	lw := &t.lowWater
	if lw.off || time.Since(lw.at) < lowWaterEvery {
		return nil
	}
	low, err := t.store.AdvanceLowWater(t.work)
	lw.at = time.Now()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42501" || pgErr.Code == "42883") {
		lw.off = true
		t.p.log.Warn().Err(err).
			Str("hint", "run `publisher migrate` and GRANT EXECUTE ON FUNCTION pgfanout.advance_low_water() TO the publisher role").
			Msg("cannot advance the low-water mark; messages go without it, so replicas keep all their bookkeeping")
		return nil
	}
	if err != nil {
		return err
	}
	lw.mark = low
	t.p.m.lowWater.Set(float64(low))
	return nil
}
