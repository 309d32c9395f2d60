package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/internal/retry"
)

// Statement is what every client runs over and over, in autocommit.
type Statement struct {
	Title string // names the statement in errors
	SQL   string
	Args  func(r *rand.Rand) []any // called by every client at once, each with its own r; nil: no arguments
}

// Clients runs a Statement from N connections for Duration.
type Clients struct {
	URL      string
	N        int
	Duration time.Duration
	// Rate is the statements per second of all clients together, each client taking its
	// share on a fixed schedule (a client behind it runs its next statement at once); 0 runs
	// every client flat out.
	Rate float64
	// Application is the connections' application_name, so that a CPU sampler can tell their
	// backends apart; empty: pgx's default.
	Application string
	// Latencies keeps each statement's duration for Result.Latency (a time.Now per
	// statement; off, the flat-out loop reads the clock only to check the deadline).
	Latencies bool
}

// Result is what the clients did.
type Result struct {
	Statements int64
	Elapsed    time.Duration // from the start of the clients until the last one finished
	latencies  []time.Duration
}

// PerSecond is statements per second.
func (r Result) PerSecond() float64 { return float64(r.Statements) / r.Elapsed.Seconds() }

// Latency is the q-quantile (0.5, 0.99, 1 for the maximum) of the statements' durations;
// 0 without Clients.Latencies.
func (r Result) Latency(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(int(q*float64(len(r.latencies))), len(r.latencies)-1)]
}

// Run opens the connections, then starts the clock and the clients. A statement started
// before the deadline runs to its end, so no measurement ends in a cancelled statement. The
// first failure stops every client.
func (c Clients) Run(ctx context.Context, s Statement) (Result, error) {
	if c.N <= 0 || c.Duration <= 0 || c.Rate < 0 {
		return Result{}, fmt.Errorf("clients: want N > 0, Duration > 0 and Rate >= 0, not %d, %v, %v", c.N, c.Duration, c.Rate)
	}
	conns, err := c.connect(ctx)
	defer func() {
		for _, conn := range conns {
			_ = conn.Close(context.Background())
		}
	}()
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		ops  atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		lats []time.Duration
	)
	start := time.Now()
	for i, conn := range conns {
		wg.Go(func() {
			cl := client{conn: conn, stmt: s, ops: &ops, keep: c.Latencies,
				r: rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))), deadline: start.Add(c.Duration)}
			if c.Rate > 0 {
				interval := time.Duration(float64(time.Second) * float64(c.N) / c.Rate)
				cl.interval, cl.next = interval, start.Add(interval*time.Duration(i)/time.Duration(c.N))
			}
			if err := cl.run(ctx); err != nil {
				cancel(err)
			}
			mu.Lock()
			lats = append(lats, cl.lats...)
			mu.Unlock()
		})
	}
	wg.Wait()
	r := Result{Statements: ops.Load(), Elapsed: time.Since(start), latencies: lats}
	if err := context.Cause(ctx); err != nil {
		return Result{}, err
	}
	slices.Sort(r.latencies)
	return r, nil
}

func (c Clients) connect(ctx context.Context) ([]*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(c.URL)
	if err != nil {
		return nil, fmt.Errorf("parse client URL: %w", err)
	}
	if c.Application != "" {
		cfg.RuntimeParams["application_name"] = c.Application
	}
	conns := make([]*pgx.Conn, 0, c.N)
	for range c.N {
		conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
		if err != nil {
			return conns, fmt.Errorf("connect client: %w", err)
		}
		conns = append(conns, conn)
	}
	return conns, nil
}

// client is one connection's loop.
type client struct {
	conn     *pgx.Conn
	stmt     Statement
	r        *rand.Rand
	ops      *atomic.Int64
	deadline time.Time
	interval time.Duration // 0: flat out
	next     time.Time     // when the next statement is due, with an interval
	keep     bool
	lats     []time.Duration
}

func (c *client) run(ctx context.Context) error {
	for {
		now := time.Now()
		if c.interval > 0 {
			if !c.next.Before(c.deadline) {
				return nil
			}
			if wait := c.next.Sub(now); wait > 0 {
				if err := retry.Sleep(ctx, wait); err != nil {
					return err
				}
				now = time.Now()
			}
			c.next = c.next.Add(c.interval)
		} else if !now.Before(c.deadline) {
			return nil
		}
		var args []any
		if c.stmt.Args != nil {
			args = c.stmt.Args(c.r)
		}
		if _, err := c.conn.Exec(ctx, c.stmt.SQL, args...); err != nil {
			return fmt.Errorf("%s: %w", c.stmt.Title, err)
		}
		c.ops.Add(1)
		if c.keep {
			c.lats = append(c.lats, time.Since(now))
		}
	}
}
