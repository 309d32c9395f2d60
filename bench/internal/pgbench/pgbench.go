// Package pgbench runs PostgreSQL's pgbench: initialising its TPC-B-like tables and running
// the built-in script for a while, with the figures of its report parsed.
package pgbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/pgfanout/pgfanout/internal/localserver"
)

// Tables are the tables pgbench creates, the history (no primary key) last.
var Tables = []string{"pgbench_accounts", "pgbench_tellers", "pgbench_branches", "pgbench_history"}

// ChangesPerTransaction are the rows one transaction of the built-in TPC-B-like script
// writes: an account, a teller and a branch updated, a history row inserted.
const ChangesPerTransaction = 4

// Bin finds pgbench next to the server binaries localserver uses.
func Bin() (string, error) {
	dir, err := localserver.PostgresBinDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "pgbench")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("pgbench: %w", err)
	}
	return bin, nil
}

// Init creates and fills pgbench's tables at scale (100,000 accounts each) in the database
// of url: drop, create, generate on the server (deterministic: every copy holds the same
// rows), vacuum, primary keys.
func Init(ctx context.Context, bin, url string, scale int) error {
	out, err := exec.CommandContext(ctx, bin, "-i", "-s", strconv.Itoa(scale), "-I", "dtGvp", url).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgbench -i -s %d: %w\n%s", scale, err, out)
	}
	return nil
}

// Run is a timed run of the built-in script.
type Run struct {
	Bin      string
	URL      string
	Clients  int
	Threads  int           // default min(Clients, 2)
	Duration time.Duration // whole seconds, at least one (pgbench -T)
	// Started, if set, is called with pgbench's PID once it runs, so that a CPU sampler can
	// account it.
	Started func(pid int)
}

// Result is what pgbench reported.
type Result struct {
	Transactions int64   // processed
	Failed       int64   // failed (PostgreSQL 15 reports them; 0 before)
	TPS          float64 // without the initial connection time
	LatencyMS    float64 // average
}

// Seconds is the -T value of d: whole seconds, at least one.
func Seconds(d time.Duration) int { return max(1, int(math.Round(d.Seconds()))) }

// Run runs pgbench without its vacuum (-n: the default vacuum would truncate
// pgbench_history) and parses its report.
func (r Run) Run(ctx context.Context) (Result, error) {
	threads := r.Threads
	if threads <= 0 {
		threads = min(r.Clients, 2)
	}
	cmd := exec.CommandContext(ctx, r.Bin, "-n", "-c", strconv.Itoa(r.Clients), "-j", strconv.Itoa(threads),
		"-T", strconv.Itoa(Seconds(r.Duration)), r.URL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("start pgbench: %w", err)
	}
	if r.Started != nil {
		r.Started(cmd.Process.Pid)
	}
	if err := cmd.Wait(); err != nil {
		return Result{}, fmt.Errorf("pgbench -c %d: %w\n%s", r.Clients, err, out.String())
	}
	res, err := Parse(out.String())
	if err != nil {
		return Result{}, fmt.Errorf("%w\n%s", err, out.String())
	}
	return res, nil
}

var (
	reProcessed = regexp.MustCompile(`(?m)^number of transactions actually processed: (\d+)`)
	reFailed    = regexp.MustCompile(`(?m)^number of failed transactions: (\d+)`)
	reTPS       = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
	reLatency   = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
)

// Parse reads the figures of pgbench's report.
func Parse(out string) (Result, error) {
	var r Result
	m := reProcessed.FindStringSubmatch(out)
	t := reTPS.FindStringSubmatch(out)
	if m == nil || t == nil {
		return Result{}, errors.New("pgbench report: no transaction count or tps")
	}
	r.Transactions, _ = strconv.ParseInt(m[1], 10, 64)
	r.TPS, _ = strconv.ParseFloat(t[1], 64)
	if f := reFailed.FindStringSubmatch(out); f != nil {
		r.Failed, _ = strconv.ParseInt(f[1], 10, 64)
	}
	if l := reLatency.FindStringSubmatch(out); l != nil {
		r.LatencyMS, _ = strconv.ParseFloat(l[1], 64)
	}
	return r, nil
}
