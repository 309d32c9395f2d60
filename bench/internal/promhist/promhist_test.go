package promhist

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const page = `# HELP lag_seconds End-to-end lag.
# TYPE lag_seconds histogram
lag_seconds_bucket{le="0.1"} 10
lag_seconds_bucket{le="1"} 90
lag_seconds_bucket{le="+Inf"} 100
lag_seconds_sum 42.5
lag_seconds_count 100
other_bucket{le="0.1"} 7
applied_total{table="a b"} 3
`

func TestParse(t *testing.T) {
	h, err := Parse(page, "lag_seconds")
	require.NoError(t, err)
	require.Equal(t, Histogram{Buckets: []Bucket{{0.1, 10}, {1, 90}, {math.Inf(1), 100}}, Count: 100, Sum: 42.5}, h)

	_, err = Parse(page, "missing")
	require.ErrorContains(t, err, "no buckets")
	_, err = Parse(`x_bucket{le="oops"} 1`, "x")
	require.Error(t, err)
}

func TestParseAddsLabelSets(t *testing.T) {
	h, err := Parse(`x_bucket{t="a",le="1"} 1
x_bucket{t="b",le="1"} 2
x_bucket{t="a",le="+Inf"} 1
x_bucket{t="b",le="+Inf"} 4
x_count{t="a"} 1
x_count{t="b"} 4
`, "x")
	require.NoError(t, err)
	require.Equal(t, []Bucket{{1, 3}, {math.Inf(1), 5}}, h.Buckets)
	require.Equal(t, 5.0, h.Count)
}

func TestQuantile(t *testing.T) {
	h, err := Parse(page, "lag_seconds")
	require.NoError(t, err)
	for _, tc := range []struct {
		q, want float64
	}{
		{0.05, 0.05}, // rank 5 of the first bucket's 10, from 0
		{0.1, 0.1},
		{0.5, 0.1 + 0.9*40/80}, // rank 50: 40 of the second bucket's 80
		{0.9, 1},
		{0.99, 1}, // in +Inf: the highest finite bound
	} {
		require.InDelta(t, tc.want, h.Quantile(tc.q), 1e-9, "q=%v", tc.q)
	}
	require.True(t, math.IsNaN(Histogram{}.Quantile(0.5)))
	empty := Histogram{Buckets: []Bucket{{1, 0}, {math.Inf(1), 0}}}
	require.True(t, math.IsNaN(empty.Quantile(0.5)))
}

func TestSubAndAdd(t *testing.T) {
	before := Histogram{Buckets: []Bucket{{1, 5}, {math.Inf(1), 6}}, Count: 6, Sum: 2}
	after := Histogram{Buckets: []Bucket{{1, 8}, {math.Inf(1), 12}}, Count: 12, Sum: 9}
	d, err := after.Sub(before)
	require.NoError(t, err)
	require.Equal(t, Histogram{Buckets: []Bucket{{1, 3}, {math.Inf(1), 6}}, Count: 6, Sum: 7}, d)

	same, err := after.Sub(Histogram{})
	require.NoError(t, err)
	require.Equal(t, after, same, "a process started since subtracts nothing")

	sum, err := Histogram{}.Add(d)
	require.NoError(t, err)
	require.Equal(t, d, sum)
	sum, err = sum.Add(d)
	require.NoError(t, err)
	require.Equal(t, Histogram{Buckets: []Bucket{{1, 6}, {math.Inf(1), 12}}, Count: 12, Sum: 14}, sum)

	_, err = after.Sub(Histogram{Buckets: []Bucket{{2, 1}, {math.Inf(1), 1}}})
	require.ErrorContains(t, err, "bounds")
	_, err = after.Sub(Histogram{Buckets: []Bucket{{math.Inf(1), 1}}})
	require.ErrorContains(t, err, "buckets")
}

func TestFetch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/metrics", r.URL.Path)
		_, _ = w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)
	h, err := Fetch(strings.TrimPrefix(srv.URL, "http://"), "lag_seconds")
	require.NoError(t, err)
	require.Equal(t, 100.0, h.Count)
}
