package procstat

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeProc is a /proc of a few processes in a temporary directory, changed between samples.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T) *fakeProc { return &fakeProc{t: t, root: t.TempDir()} }

// set writes pid's stat and status; rssKB is its VmRSS, and VmHWM is twice that.
func (f *fakeProc) set(st Stat, rssKB int) {
	dir := filepath.Join(f.root, strconv.Itoa(st.PID))
	require.NoError(f.t, os.MkdirAll(dir, 0o755))
	stat := fmt.Sprintf("%d (%s) %c %d %d %d 0 -1 0 0 0 0 0 %d %d %d %d 20 0 1 0 %d 0 0\n",
		st.PID, st.Comm, st.State, st.PPID, st.PGRP, st.PGRP, st.UTime, st.STime, st.CUTime, st.CSTime, st.StartTime)
	status := fmt.Sprintf("Name:\t%s\nVmHWM:\t%d kB\nVmRSS:\t%d kB\nRssAnon:\t%d kB\n", st.Comm, 2*rssKB, rssKB, rssKB/2)
	require.NoError(f.t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644))
	require.NoError(f.t, os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644))
}

func (f *fakeProc) remove(pid int) {
	require.NoError(f.t, os.RemoveAll(filepath.Join(f.root, strconv.Itoa(pid))))
}

func proc(pid, ppid int, comm string, start, utime, cutime uint64) Stat {
	return Stat{PID: pid, PPID: ppid, PGRP: pid, Comm: comm, State: 'S', StartTime: start, UTime: utime, CUTime: cutime}
}

// byComm labels the processes of a tree by their comm.
func byComm(root int) Selector {
	return func(_ context.Context, procs map[int]Stat) (map[int]string, error) {
		out := map[int]string{}
		for _, pid := range descendants(procs, root) {
			out[pid] = procs[pid].Comm
		}
		return out, nil
	}
}

// startFake starts a sampler that never ticks: the test takes each sample itself.
func startFake(t *testing.T, f *fakeProc, sel ...Selector) *Sampler {
	s, err := Start(context.Background(), Config{Root: f.root, Interval: time.Hour, Selectors: sel})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = s.Stop() })
	return s
}

func ticks(n int) time.Duration { return time.Duration(n) * ClockTick }

func TestSamplerAccountsExitedChildrenOnce(t *testing.T) {
	f := newFakeProc(t)
	f.set(proc(100, 1, "postmaster", 10, 10, 0), 1000)
	f.set(proc(101, 100, "a", 20, 5, 0), 500)
	f.set(proc(200, 1, "x", 5, 1000, 0), 100) // not in the tree
	s := startFake(t, f, byComm(100))

	f.set(proc(100, 1, "postmaster", 10, 12, 0), 1000)
	f.set(proc(101, 100, "a", 20, 25, 0), 700)
	f.set(proc(102, 100, "b", 30, 7, 0), 300) // started after the first sample: all of its time counts
	f.set(proc(200, 1, "x", 5, 1500, 0), 100)
	require.NoError(t, s.sample(context.Background()))
	r := s.Result()
	for label, want := range map[string]int{"postmaster": 2, "a": 20, "b": 7} {
		u, ok := r.Get(label)
		require.True(t, ok, label)
		require.Equal(t, ticks(want), u.CPU, label)
	}

	// a exits after 5 more ticks; the postmaster has waited for it: its children's time holds
	// a's 30. b is replaced by a new process with the same PID, after 2 more ticks.
	f.remove(101)
	f.set(proc(100, 1, "postmaster", 10, 12, 30+9), 1000)
	f.set(proc(102, 100, "b", 40, 3, 0), 200)
	require.NoError(t, s.sample(context.Background()))
	r, err := s.Stop()
	require.NoError(t, err)
	want := map[string]Usage{
		// Its own 2 ticks, and what its exited children did after their last sample (a 5, b 2).
		"postmaster": {CPU: ticks(2 + 5 + 2), Processes: 1, PeakRSS: 1000 << 10, PeakRSSAnon: 500 << 10, MaxHWM: 2000 << 10},
		"a":          {CPU: ticks(20), Processes: 1, PeakRSS: 700 << 10, PeakRSSAnon: 350 << 10, MaxHWM: 1400 << 10},
		"b":          {CPU: ticks(7 + 3), Processes: 2, PeakRSS: 300 << 10, PeakRSSAnon: 150 << 10, MaxHWM: 600 << 10},
	}
	require.Len(t, r.Usage, len(want))
	total := time.Duration(0)
	for _, u := range r.Usage {
		w := want[u.Label]
		w.Label = u.Label
		require.Equal(t, w, u)
		total += u.CPU
	}
	// The tree's CPU since the first sample: (12+39) - (10+5) of the two that were there, plus 3.
	require.Equal(t, ticks(39), total)
}

func TestSamplerLabelledLateCountsFromFirstSample(t *testing.T) {
	f := newFakeProc(t)
	f.set(proc(300, 1, "late", 10, 50, 0), 100)
	labelled := false
	late := func(context.Context, map[int]Stat) (map[int]string, error) {
		if !labelled {
			return nil, nil
		}
		return map[int]string{300: "late"}, nil
	}
	s := startFake(t, f, late)
	f.set(proc(300, 1, "late", 10, 60, 0), 100)
	require.NoError(t, s.sample(context.Background()))
	labelled = true
	f.set(proc(300, 1, "late", 10, 65, 0), 100)
	require.NoError(t, s.sample(context.Background()))
	u, ok := s.Result().Get("late")
	require.True(t, ok)
	require.Equal(t, ticks(15), u.CPU)
}

func TestSamplerSumsRSSPerLabelAndFirstSelectorWins(t *testing.T) {
	f := newFakeProc(t)
	f.set(proc(10, 1, "node", 1, 0, 0), 100)
	f.set(proc(11, 10, "helper", 2, 0, 0), 50)
	s := startFake(t, f, PID("node alone", 10), Tree("node tree", 10))
	f.set(proc(11, 10, "helper", 2, 0, 0), 80)
	require.NoError(t, s.sample(context.Background()))
	f.set(proc(10, 1, "node", 1, 0, 0), 10)
	require.NoError(t, s.sample(context.Background()))
	r := s.Result()
	alone, _ := r.Get("node alone")
	tree, _ := r.Get("node tree")
	require.Equal(t, int64(100<<10), alone.PeakRSS)
	require.Equal(t, int64(80<<10), tree.PeakRSS, "the helper alone: the node counts for the first selector")
	require.Equal(t, 1, tree.Processes)
}

func TestSamplerStopReturnsSelectorError(t *testing.T) {
	f := newFakeProc(t)
	f.set(proc(10, 1, "node", 1, 0, 0), 100)
	fail := false
	sel := func(context.Context, map[int]Stat) (map[int]string, error) {
		if fail {
			return nil, fmt.Errorf("no server")
		}
		return nil, nil
	}
	s, err := Start(context.Background(), Config{Root: f.root, Interval: time.Hour, Selectors: []Selector{sel}})
	require.NoError(t, err)
	fail = true
	_, err = s.Stop()
	require.ErrorContains(t, err, "no server")
}

func TestSelectors(t *testing.T) {
	procs := map[int]Stat{
		1:  {PID: 1, PGRP: 1},
		10: {PID: 10, PPID: 1, PGRP: 10},
		11: {PID: 11, PPID: 10, PGRP: 11}, // its own group, as PostgreSQL's backends are
		12: {PID: 12, PPID: 11, PGRP: 10},
		20: {PID: 20, PPID: 1, PGRP: 10},
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		sel  Selector
		want map[int]string
	}{
		{"pid", PID("p", 11), map[int]string{11: "p"}},
		{"pid not running", PID("p", 99), nil},
		{"tree", Tree("t", 10), map[int]string{10: "t", 11: "t", 12: "t"}},
		{"tree not running", Tree("t", 99), map[int]string{}},
		{"group", Group("g", 10), map[int]string{10: "g", 12: "g", 20: "g"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sel(ctx, procs)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
