package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/cli"
	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/replicate"
	"github.com/pgfanout/pgfanout/internal/verify"
)

// verifyOptions are the flags of `replicator verify`, which needs no RabbitMQ.
type verifyOptions struct {
	sourceURL  string
	replicaURL string
	tables     string
	repair     bool
	maxKeys    int
	recheck    time.Duration
	chunkRows  int
	workers    int
	liveness   liveness.Settings
	log        cli.Log
}

func (o *verifyOptions) flags(out io.Writer) *flag.FlagSet {
	fs := cli.NewFlagSet("replicator verify", out)
	fs.StringVar(&o.sourceURL, "source-url", "", "source PostgreSQL `URL` (a read-only role will do)")
	fs.StringVar(&o.replicaURL, "replica-url", "", "replica PostgreSQL `URL`")
	fs.StringVar(&o.tables, "tables", "*.*", "comma-separated schema.table `patterns` of the tracked tables to compare")
	fs.BoolVar(&o.repair, "repair", false, "copy the ranges that differ again, exactly, while the stream goes on; then compare them again")
	fs.IntVar(&o.maxKeys, "max-keys", 10, "differing keys listed per table at most")
	fs.DurationVar(&o.recheck, "recheck", 30*time.Second, "how long differing keys are re-checked (every second) before they count as different: rows in flight become equal meanwhile; 0: no re-check")
	fs.IntVar(&o.chunkRows, "chunk-rows", 10000, "rows per compared range at most")
	fs.IntVar(&o.workers, "workers", 2, "statements each database runs at once, each on a connection of its own")
	cli.LivenessFlags(fs, &o.liveness)
	o.log.Flags(fs)
	return fs
}

// verifyCommand is `replicator verify`.
func verifyCommand(stdout, stderr io.Writer) *ffcli.Command {
	o := &verifyOptions{}
	return cli.Command(&ffcli.Command{
		Name:       "verify",
		ShortUsage: "replicator verify --source-url URL --replica-url URL [--tables patterns] [--repair] [flags]",
		ShortHelp:  "Compare the replica's tracked tables with the source, without locks; exit 0 when equal, 1 when not, 2 on errors.",
		FlagSet:    o.flags(stdout),
		Exec:       func(ctx context.Context, _ []string) error { return runVerify(ctx, o, stdout, stderr) },
	})
}

// config checks the flags and turns them into the verifier's configuration.
func (o *verifyOptions) config() (verify.Config, error) {
	switch {
	case o.sourceURL == "":
		return verify.Config{}, cli.Required("source-url")
	case o.replicaURL == "":
		return verify.Config{}, cli.Required("replica-url")
	case o.chunkRows <= 0 || o.workers <= 0:
		return verify.Config{}, cli.UsageError{Msg: "--chunk-rows and --workers must be positive"}
	case o.maxKeys < 0 || o.recheck < 0:
		return verify.Config{}, cli.UsageError{Msg: "--max-keys and --recheck must not be negative"}
	}
	patterns, err := replicate.ParsePatterns(o.tables)
	if err != nil {
		return verify.Config{}, cli.UsageError{Msg: "--tables: " + err.Error()}
	}
	if err := o.liveness.Validate(); err != nil {
		return verify.Config{}, cli.UsageError{Msg: err.Error()}
	}
	if _, err := apply.PoolConfig(o.replicaURL, o.liveness); err != nil {
		return verify.Config{}, cli.UsageError{Msg: "--replica-url: " + err.Error()}
	}
	maxKeys := o.maxKeys
	if maxKeys == 0 {
		maxKeys = -1 // none listed (verify.Config's zero is its default)
	}
	return verify.Config{SourceURL: o.sourceURL, ReplicaURL: o.replicaURL,
		Match:     func(s, t string) bool { return replicate.MatchAny(patterns, s, t) },
		ChunkRows: o.chunkRows, Workers: o.workers, MaxKeys: maxKeys, Recheck: o.recheck, Repair: o.repair,
		Liveness: o.liveness}, nil
}

// runVerify compares, prints a line per table and a summary on stdout (progress on stderr),
// and exits 0 when every table is equal, 1 when one is not, 2 when it could not compare.
func runVerify(ctx context.Context, o *verifyOptions, stdout, stderr io.Writer) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	log, err := o.log.Logger("replicator", stderr)
	if err != nil {
		return err
	}
	v, err := verify.New(cfg, log)
	if err != nil {
		return cli.ExitError{Code: 2, Err: err}
	}
	defer v.Close()
	stop := watchVerify(v, stderr)
	report, err := v.Run(ctx)
	stop()
	if err != nil {
		return cli.ExitError{Code: 2, Err: err}
	}
	for _, t := range report.Tables {
		fmt.Fprintln(stdout, t.Line())
	}
	fmt.Fprintln(stdout, report.Summary())
	if !report.Equal() {
		return cli.ExitError{Code: 1}
	}
	return nil
}

// watchVerify prints v's progress every second until stop is called.
func watchVerify(v *verify.Verifier, out io.Writer) (stop func()) {
	line := cli.ProgressPrinter(out)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				line(progressLine(v.Progress()), true)
				return
			case <-tick.C:
				line(progressLine(v.Progress()), false)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

func progressLine(p verify.Progress) string {
	elapsed := time.Since(p.Started).Round(time.Second)
	switch p.Phase {
	case verify.PhaseComparing:
		return fmt.Sprintf("verify: comparing %d/%d tables, %d/%d chunks, %d rows (%.0f rows/s), %s", p.TablesDone, p.Tables,
			p.ChunksDone, p.Chunks, p.Rows, float64(p.Rows)/max(time.Since(p.Started).Seconds(), 1e-3), elapsed)
	case verify.PhaseRechecking:
		return fmt.Sprintf("verify: re-checking %d differing keys, %s", p.Candidates, elapsed)
	case verify.PhaseRepairing:
		return fmt.Sprintf("verify: repairing %d/%d chunks, %d rows copied, %s", p.ChunksDone, p.Chunks, p.Rows, elapsed)
	case verify.PhaseDone:
		return fmt.Sprintf("verify: done in %s", elapsed)
	}
	return "verify: " + p.Phase
}
