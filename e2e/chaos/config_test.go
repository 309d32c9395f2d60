package chaos

import (
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

// The suite's settings: each flag (go test ./e2e/chaos/ -args -chaos.seed=…) or, when the flag
// is not given, its environment variable (what `make chaos` passes).
var (
	_ = flag.String("chaos.seed", "", "seed of the schedule and the workload; env CHAOS_SEED; default: random")
	_ = flag.Duration("chaos.duration", 0, "how long faults are injected; env CHAOS_DURATION; default 2m")
	_ = flag.Duration("chaos.converge", 0, "how long the replicas may take to equal the source after the chaos ends before the run fails; env CHAOS_CONVERGE; default 5m")
	_ = flag.String("chaos.logs", "", "directory for the programs' and servers' logs, kept; env CHAOS_LOGS; default: a temporary directory, kept only when the run fails")
)

// Defaults. The convergence limit is the failure line, far above the 60 s target the report
// measures against: a loaded 2-core CI box must not fail a correct run by timing.
const (
	defaultDuration = 2 * time.Minute
	defaultConverge = 5 * time.Minute
	convergeTarget  = 60 * time.Second
	faultTarget     = 50 // per `make chaos` (8 minutes)
)

// config is one run's settings.
type config struct {
	seed     uint64
	duration time.Duration
	converge time.Duration
	logs     string // "" : a temporary directory
	clients  int
}

// loadConfig reads the flags, then the environment, then the defaults.
func loadConfig() (config, error) {
	c := config{clients: 4}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	pick := func(name, env string) (string, bool) {
		if set[name] {
			return flag.Lookup(name).Value.String(), true
		}
		v := os.Getenv(env)
		return v, v != ""
	}
	if s, ok := pick("chaos.seed", "CHAOS_SEED"); ok {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return c, fmt.Errorf("seed %q: %w", s, err)
		}
		c.seed = n
	} else {
		var b [8]byte
		_, _ = rand.Read(b[:])
		c.seed = binary.LittleEndian.Uint64(b[:]) % 1_000_000_000 // short enough to retype
	}
	var err error
	if c.duration, err = pickDuration(pick, "chaos.duration", "CHAOS_DURATION", defaultDuration); err != nil {
		return c, err
	}
	if c.converge, err = pickDuration(pick, "chaos.converge", "CHAOS_CONVERGE", defaultConverge); err != nil {
		return c, err
	}
	if c.duration < 30*time.Second {
		return c, fmt.Errorf("duration %s: at least 30s", c.duration)
	}
	c.logs, _ = pick("chaos.logs", "CHAOS_LOGS")
	return c, nil
}

func pickDuration(pick func(name, env string) (string, bool), name, env string, def time.Duration) (time.Duration, error) {
	s, ok := pick(name, env)
	if !ok || s == "0s" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", env, s, err)
	}
	return d, nil
}

// replay is the command line that runs the same schedule and workload again.
func (c config) replay() string {
	return fmt.Sprintf("CHAOS_SEED=%d CHAOS_DURATION=%s make chaos", c.seed, c.duration)
}
