package chaos

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPlanIsReplayable: one seed, one schedule; another seed, another one.
func TestPlanIsReplayable(t *testing.T) {
	require.Equal(t, plan(42, 8*time.Minute).String(), plan(42, 8*time.Minute).String())
	require.NotEqual(t, plan(42, 8*time.Minute).String(), plan(43, 8*time.Minute).String())
}

// TestPlanCoversTheIssue: every 8-minute schedule has at least 50 faults, every kind, and
// keeps each lane within the phase and the outage's target out of the other lanes.
func TestPlanCoversTheIssue(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		d := 8 * time.Minute
		s := plan(seed, d)
		require.GreaterOrEqual(t, len(s), faultTarget, "seed %d", seed)
		counts := s.counts()
		require.Equal(t, 1, counts[longOutage], "seed %d", seed)
		var outage fault
		for _, f := range s {
			if f.kind == longOutage {
				outage = f
			}
		}
		require.LessOrEqual(t, outage.at+outage.hold, d-30*time.Second, "seed %d: replica b is back well before the end", seed)
		for k := range numKinds {
			require.Positive(t, counts[k], "seed %d: no %s", seed, k)
		}
		for _, f := range s {
			require.LessOrEqual(t, f.at+f.hold, d, "seed %d: %s", seed, f)
			during := f.at >= outage.at-20*time.Second && f.at <= outage.at+outage.hold+20*time.Second
			if during && outage.target == outageReplicatorB {
				require.False(t, f.kind == killReplicator && f.target == "b", "seed %d: %s", seed, f)
			}
			if during && outage.target == outagePostgresB {
				require.False(t, f.kind == restartReplica && f.target == "b", "seed %d: %s", seed, f)
			}
		}
	}
}

// TestPlanShortRun: the 2-minute run of `make test` still has a fault of most kinds and the
// outage.
func TestPlanShortRun(t *testing.T) {
	s := plan(7, defaultDuration)
	require.GreaterOrEqual(t, len(s), 12)
	require.Equal(t, 1, s.counts()[longOutage])
}
