package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/bench/internal/checksum"
)

// probe is one figure that must be the same on the source and a replica: a table's checksum,
// or an aggregate.
type probe struct {
	name string
	read func(ctx context.Context, conn *pgx.Conn) (string, error)
}

func tableProbe(spec checksum.Spec) probe {
	return probe{name: spec.Table.Sanitize(), read: func(ctx context.Context, conn *pgx.Conn) (string, error) {
		s, err := checksum.Table(ctx, conn, spec)
		return s.String(), err
	}}
}

// queryProbe is a probe reading one text value.
func queryProbe(name, sql string) probe {
	return probe{name: name, read: func(ctx context.Context, conn *pgx.Conn) (string, error) {
		var v string
		if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return v, nil
	}}
}

func readProbes(ctx context.Context, conn *pgx.Conn, probes []probe) ([]string, error) {
	out := make([]string, len(probes))
	for i, p := range probes {
		v, err := p.read(ctx, conn)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Polling: the tracker every gatePoll; a checksum without the tracker's word at least every
// fallback, so that a tracker that never says yes costs a late figure, not a hang. After a
// mismatch the next read waits five times as long as the read took (at least recheck), so
// that reading takes at most a sixth of a core from the replica catching up.
const (
	gatePoll = 20 * time.Millisecond
	recheck  = 100 * time.Millisecond
	fallback = 2 * time.Second
)

// converge waits until every replica of sys holds what the source holds, by probes, and
// returns when the last one did: the start of its first matching read, which is when its
// state was taken (the source no longer changes, and a replica that equals it stays equal).
// After timeout it fails with what differs.
func converge(ctx context.Context, sys system, tr tracker, probes []probe, timeout time.Duration) (time.Time, error) {
	src, err := connect(ctx, sys.sourceURL(), controlApp)
	if err != nil {
		return time.Time{}, err
	}
	defer src.Close(context.Background())
	// The source's figures are read while the first replica checks run: the replica must
	// not wait for them, or its time would include theirs.
	type sums struct {
		v   []string
		err error
	}
	srcDone := make(chan sums, 1)
	go func() { v, err := readProbes(ctx, src, probes); srcDone <- sums{v, err} }()
	var want *sums
	wantSums := func() (sums, error) {
		if want == nil {
			s := <-srcDone
			want = &s
		}
		return *want, want.err
	}

	reps := sys.replicaURLs()
	conns := make([]*pgx.Conn, len(reps))
	for i, u := range reps {
		if conns[i], err = connect(ctx, u, controlApp); err != nil {
			return time.Time{}, err
		}
		defer conns[i].Close(context.Background())
	}
	start := time.Now()
	deadline := start.Add(timeout)
	equalAt := make([]time.Time, len(reps))
	last := make([][]string, len(reps))
	nextCheck := make([]time.Time, len(reps)) // without the tracker's word
	nextGated := make([]time.Time, len(reps)) // with it
	for i := range nextCheck {
		nextCheck[i] = start.Add(fallback)
	}
	for {
		pending := 0
		for i := range reps {
			if !equalAt[i].IsZero() {
				continue
			}
			pending++
			ok, err := tr.applied(ctx, i)
			if err != nil {
				return time.Time{}, fmt.Errorf("replica %d: %w", i+1, err)
			}
			now := time.Now()
			if (ok && now.Before(nextGated[i])) || (!ok && now.Before(nextCheck[i])) {
				continue
			}
			got, err := readProbes(ctx, conns[i], probes)
			if err != nil {
				return time.Time{}, fmt.Errorf("replica %d: %w", i+1, err)
			}
			w, err := wantSums()
			if err != nil {
				return time.Time{}, fmt.Errorf("source: %w", err)
			}
			last[i] = got
			if slices.Equal(got, w.v) {
				equalAt[i] = now
				pending--
				continue
			}
			took := time.Since(now)
			nextGated[i] = time.Now().Add(max(recheck, 5*took))
			nextCheck[i] = time.Now().Add(max(fallback, 5*took))
		}
		if pending == 0 {
			return slices.MaxFunc(equalAt, func(a, b time.Time) int { return a.Compare(b) }), nil
		}
		if time.Now().After(deadline) {
			w, _ := wantSums()
			return time.Time{}, fmt.Errorf("%s: a replica did not equal the source within %s:\n%s",
				sys.name(), timeout, difference(probes, w.v, last, equalAt))
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(gatePoll):
		}
	}
}

// difference names, for each replica still unequal, each probe on both sides.
func difference(probes []probe, want []string, got [][]string, equalAt []time.Time) string {
	var b strings.Builder
	for i, g := range got {
		if !equalAt[i].IsZero() {
			continue
		}
		if g == nil {
			fmt.Fprintf(&b, "  replica %d: never checked\n", i+1)
			continue
		}
		for j, p := range probes {
			mark := "equal"
			if j >= len(want) || g[j] != want[j] {
				mark = "DIFFERS"
			}
			w := "?"
			if j < len(want) {
				w = want[j]
			}
			fmt.Fprintf(&b, "  replica %d, %s: source %s; replica %s (%s)\n", i+1, p.name, w, g[j], mark)
		}
	}
	return b.String()
}
