package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/proctest"
)

// bins are the programs under test, built once for the whole package by TestMain.
var bins struct{ publisher, replicator string }

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

// parallelTests is how many tests of this package run at once unless -parallel says: they
// mostly wait (a partition lasts 45 s, nodes start and stop, programs poll), a fraction of a
// CPU each, so GOMAXPROCS at a time (go test's default, 2 on CI) would leave the machine idle.
const parallelTests = 4

func runTests(m *testing.M) int {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit && runtime.GOMAXPROCS(0) < parallelTests {
		if err := flag.Set("test.parallel", strconv.Itoa(parallelTests)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	dir, err := os.MkdirTemp("", "pgfanout-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for program, dst := range map[string]*string{"publisher": &bins.publisher, "replicator": &bins.replicator} {
		if *dst, err = proctest.Build(dir, program); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// startProc runs cmd until the test ends, printing its output if the test failed.
func startProc(t *testing.T, cmd *exec.Cmd) *proctest.Proc {
	t.Helper()
	p, err := proctest.StartCmd(cmd)
	require.NoError(t, err)
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s %d output:\n%s", filepath.Base(cmd.Path), p.Pid(), p.Output())
		}
	})
	return p
}

// stopProc sends SIGTERM and requires exit status 0 within 10 s.
func stopProc(t *testing.T, p *proctest.Proc) {
	t.Helper()
	require.NoError(t, p.Terminate(10*time.Second), "exit status after SIGTERM:\n%s", p.Output())
}

// runCmd runs a program to completion and requires success; it returns the output.
func runCmd(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	require.NoError(t, err, "%s %v:\n%s", filepath.Base(bin), args, out)
	return string(out)
}
