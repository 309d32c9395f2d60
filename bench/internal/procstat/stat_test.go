package procstat

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseStatFixtures(t *testing.T) {
	for _, tc := range []struct {
		pid  int
		want Stat
	}{
		{2217, Stat{PID: 2217, Comm: "postgres", State: 'S', PPID: 1, PGRP: 2217,
			UTime: 310, STime: 456, CUTime: 7189, CSTime: 3312, StartTime: 1745}},
		// A process title with spaces and parentheses: comm ends at the last ')'.
		{2301, Stat{PID: 2301, Comm: "postgres: walsender (sub) 127.0.0.1(5432) ", State: 'R', PPID: 2217, PGRP: 2301,
			UTime: 1234, STime: 567, CUTime: 8, CSTime: 9, StartTime: 90210}},
		{2, Stat{PID: 2, Comm: "kthreadd", State: 'S', STime: 3, StartTime: 2}},
	} {
		got, err := ReadStat("testdata/proc", tc.pid)
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

func TestParseStatRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"12 noparens S 1 1",
		"x (a) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 0",
		"12 (a) S 1 1 1", // too few fields
		"12 (a) S 1 1 1 0 -1 0 0 0 0 0 -1 1 0 0 20 0 1 0 5 0", // negative utime
		"12 (a) SS 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 0", // state is one letter
		"12 (a) S one 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 0",
	} {
		_, err := ParseStat([]byte(in))
		require.Error(t, err, "%q", in)
	}
}

func TestParseStatusFixtures(t *testing.T) {
	for _, tc := range []struct {
		pid  int
		want Memory
	}{
		{2217, Memory{HWM: 30540 * 1024, RSS: 30212 * 1024, RSSAnon: 2712 * 1024}},
		{2301, Memory{HWM: 13500 * 1024, RSS: 13204 * 1024, RSSAnon: 1100 * 1024}},
		{2, Memory{}}, // a kernel thread has no memory lines
	} {
		got, err := ReadMemory("testdata/proc", tc.pid)
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
	for _, in := range []string{"VmRSS:\t12 MB\n", "VmHWM:\tmany kB\n", "RssAnon: 1\n"} {
		_, err := ParseStatus([]byte(in))
		require.Error(t, err, "%q", in)
	}
}

func TestScanFixture(t *testing.T) {
	procs, err := Scan("testdata/proc")
	require.NoError(t, err)
	require.Len(t, procs, 3)
	require.Equal(t, 2217, procs[2301].PPID)
	_, err = Scan(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
}

func TestReadStatOfThisProcess(t *testing.T) {
	st, err := ReadStat("/proc", os.Getpid())
	require.NoError(t, err)
	require.Equal(t, os.Getpid(), st.PID)
	require.Equal(t, os.Getppid(), st.PPID)
	m, err := ReadMemory("/proc", os.Getpid())
	require.NoError(t, err)
	require.Positive(t, m.RSS)
	require.GreaterOrEqual(t, m.HWM, m.RSS)
}
