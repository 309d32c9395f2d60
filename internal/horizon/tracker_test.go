package horizon

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTrackerAgesTheMark(t *testing.T) {
	var tr Tracker
	t0 := time.Unix(1000, 0)
	h := time.Minute
	require.Zero(t, tr.Sample(t0, h), "nothing seen")
	tr.Observe(100)
	tr.Observe(50) // an older message, delivered late
	require.Equal(t, int64(100), tr.Seen())
	require.Zero(t, tr.Sample(t0.Add(time.Second), h), "seen one second ago only")
	tr.Observe(200)
	require.Zero(t, tr.Sample(t0.Add(30*time.Second), h))
	require.Equal(t, int64(100), tr.Sample(t0.Add(61*time.Second), h), "100 was seen a minute ago, 200 was not")
	require.Equal(t, int64(100), tr.Sample(t0.Add(89*time.Second), h))
	require.Equal(t, int64(200), tr.Sample(t0.Add(91*time.Second), h))
	tr.Observe(300)
	require.Equal(t, int64(200), tr.Sample(t0.Add(95*time.Second), h), "a mark is never aged before its horizon")
	require.LessOrEqual(t, len(tr.samples), 3, "old samples are dropped")
}
