// Package promhist reads a Prometheus histogram from a program's /metrics page and estimates
// its quantiles the way PromQL's histogram_quantile does, so that a benchmark can put what a
// program reports about itself beside what the benchmark measured.
package promhist

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bucket is one cumulative bucket: Count observations were <= UpperBound.
type Bucket struct {
	UpperBound float64 // +Inf for the last
	Count      float64
}

// Histogram is a histogram's buckets in ascending order of bound, with its _count and _sum.
type Histogram struct {
	Buckets []Bucket
	Count   float64
	Sum     float64
}

// Parse reads histogram name from a page in the Prometheus text format. Series of the same
// bound with different labels (say, one per table) are added up.
func Parse(page, name string) (Histogram, error) {
	var h Histogram
	byBound := map[float64]float64{}
	for line := range strings.Lines(page) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		metric, value, ok := splitSample(line)
		if !ok {
			continue
		}
		series, labels, _ := strings.Cut(metric, "{")
		switch series {
		case name + "_bucket":
			le, err := bound(labels)
			if err != nil {
				return Histogram{}, fmt.Errorf("histogram %s: %q: %w", name, line, err)
			}
			byBound[le] += value
		case name + "_count":
			h.Count += value
		case name + "_sum":
			h.Sum += value
		}
	}
	if len(byBound) == 0 {
		return Histogram{}, fmt.Errorf("histogram %s: no buckets on the page", name)
	}
	for le, n := range byBound {
		h.Buckets = append(h.Buckets, Bucket{UpperBound: le, Count: n})
	}
	slices.SortFunc(h.Buckets, func(a, b Bucket) int { return compare(a.UpperBound, b.UpperBound) })
	return h, nil
}

func compare(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// splitSample splits "metric{labels} value [timestamp]" into the metric with its labels and
// the value. Label values may hold spaces, so the metric ends at the closing brace.
func splitSample(line string) (metric string, value float64, ok bool) {
	end := strings.IndexByte(line, ' ')
	if i := strings.LastIndexByte(line, '}'); i >= 0 {
		end = i + 1
	}
	if end <= 0 || end >= len(line) {
		return "", 0, false
	}
	fields := strings.Fields(line[end:])
	if len(fields) == 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", 0, false
	}
	return line[:end], v, true
}

// bound is the le label's value in labels (`le="0.5"}` and the labels before it).
func bound(labels string) (float64, error) {
	_, rest, ok := strings.Cut(labels, `le="`)
	if !ok {
		return 0, fmt.Errorf("no le label")
	}
	v, _, ok := strings.Cut(rest, `"`)
	if !ok {
		return 0, fmt.Errorf("unterminated le label")
	}
	return strconv.ParseFloat(v, 64) // accepts "+Inf"
}

// Fetch reads histogram name from http://addr/metrics.
func Fetch(addr, name string) (Histogram, error) {
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return Histogram{}, fmt.Errorf("histogram %s: %w", name, err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		return Histogram{}, fmt.Errorf("histogram %s: %w", name, err)
	}
	return Parse(string(page), name)
}

// Add is the histogram of both h's and o's observations (two processes' histograms of the
// same buckets). An empty Histogram is the identity.
func (h Histogram) Add(o Histogram) (Histogram, error) { return h.combine(o, 1) }

// Sub is the histogram of the observations h has and earlier had not: what a process observed
// between two reads. An empty earlier (a process started since) subtracts nothing.
func (h Histogram) Sub(earlier Histogram) (Histogram, error) { return h.combine(earlier, -1) }

func (h Histogram) combine(o Histogram, sign float64) (Histogram, error) {
	if len(o.Buckets) == 0 {
		return h, nil
	}
	if len(h.Buckets) == 0 {
		h = Histogram{Buckets: make([]Bucket, len(o.Buckets))}
		for i, b := range o.Buckets {
			h.Buckets[i].UpperBound = b.UpperBound
		}
	}
	if len(h.Buckets) != len(o.Buckets) {
		return Histogram{}, fmt.Errorf("histograms of %d and %d buckets", len(h.Buckets), len(o.Buckets))
	}
	out := Histogram{Buckets: make([]Bucket, len(h.Buckets)), Count: h.Count + sign*o.Count, Sum: h.Sum + sign*o.Sum}
	for i, b := range h.Buckets {
		if b.UpperBound != o.Buckets[i].UpperBound {
			return Histogram{}, fmt.Errorf("bucket %d: bounds %g and %g", i, b.UpperBound, o.Buckets[i].UpperBound)
		}
		out.Buckets[i] = Bucket{UpperBound: b.UpperBound, Count: b.Count + sign*o.Buckets[i].Count}
	}
	return out, nil
}

// Quantile estimates the q-quantile (0 < q < 1) as histogram_quantile does: it finds the
// bucket holding the rank q × count and interpolates linearly inside it, from 0 for the first
// bucket. A rank in the +Inf bucket gives the highest finite bound (the estimate cannot say
// more). NaN when the histogram is empty.
func (h Histogram) Quantile(q float64) float64 {
	if len(h.Buckets) == 0 {
		return math.NaN()
	}
	total := h.Buckets[len(h.Buckets)-1].Count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range h.Buckets {
		if b.Count >= rank {
			if math.IsInf(b.UpperBound, 1) {
				if i == 0 {
					return math.NaN()
				}
				return h.Buckets[i-1].UpperBound
			}
			if b.Count == below {
				return b.UpperBound
			}
			return lower + (b.UpperBound-lower)*(rank-below)/(b.Count-below)
		}
		lower, below = b.UpperBound, b.Count
	}
	return lower
}
