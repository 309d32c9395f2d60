package workload

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// NumberedStatement is what Numbered clients run: statement i (0 ≤ i < Total) gets Args(i, r),
// so that a workload can touch each of a list of rows exactly once.
type NumberedStatement struct {
	Title string
	SQL   string
	Args  func(i int, r *rand.Rand) []any
}

// Numbered runs a fixed number of statements from N connections flat out, in autocommit: each
// client takes the next number until Total are taken.
type Numbered struct {
	URL         string
	N           int
	Total       int
	Application string // as in Clients
	// Conns, if set, are the connections to run on (N is then their number), opened and
	// closed by the caller: a CPU sampler accounts a backend only while it lives, so a caller
	// measuring the backends keeps them until its last sample.
	Conns []*pgx.Conn
}

// Run opens the connections, then starts the clock and the clients; it returns when every
// statement ran. The first failure stops every client.
func (c Numbered) Run(ctx context.Context, s NumberedStatement) (Result, error) {
	if c.Conns != nil {
		c.N = len(c.Conns)
	}
	if c.N <= 0 || c.Total < 0 || s.Args == nil {
		return Result{}, fmt.Errorf("numbered clients: want N > 0, Total >= 0 and Args, not %d, %d", c.N, c.Total)
	}
	conns := c.Conns
	if conns == nil {
		var err error
		conns, err = Clients{URL: c.URL, N: c.N, Application: c.Application}.connect(ctx)
		defer func() {
			for _, conn := range conns {
				_ = conn.Close(context.Background())
			}
		}()
		if err != nil {
			return Result{}, err
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next atomic.Int64
		ops  atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	for k, conn := range conns {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(k), uint64(start.UnixNano())))
			for i := int(next.Add(1) - 1); i < c.Total && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if _, err := conn.Exec(ctx, s.SQL, s.Args(i, r)...); err != nil {
					cancel(fmt.Errorf("%s %d: %w", s.Title, i, err))
					return
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return Result{}, err
	}
	return Result{Statements: ops.Load(), Elapsed: time.Since(start)}, nil
}

// Permutation maps 0..n-1 onto itself in a scattered order (i × a large prime, mod n), so
// that consecutive statements touch rows far apart. It panics when n < 1.
func Permutation(n int) func(i int) int {
	if n < 1 {
		panic("workload.Permutation: n < 1")
	}
	stride := 1_000_003 // prime: coprime with n unless n is a multiple of it
	for n%stride == 0 {
		stride += 2
	}
	return func(i int) int { return int((int64(i) * int64(stride)) % int64(n)) }
}
