package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgfanout/pgfanout/bench/internal/workload"
)

// writerClients is the number of writers during a copy.
const writerClients = 4

// writers are the clients writing to the source table during a copy, each on a fixed
// schedule (its share of the rate): a quarter of the statements insert a row, half update a
// random row, a quarter delete one (the key drawn from the loaded rows: a row deleted
// before is missed). Single-row, in autocommit.
type writers struct {
	stopc  chan struct{}
	wg     sync.WaitGroup
	count  atomic.Int64
	mu     sync.Mutex
	err    error
	conns  []*pgx.Conn
	closed bool
}

func startWriters(ctx context.Context, url string, rows int, rate float64) (*writers, error) {
	w := &writers{stopc: make(chan struct{})}
	for range writerClients {
		c, err := connectAs(ctx, url, writerApp)
		if err != nil {
			w.close()
			return nil, err
		}
		w.conns = append(w.conns, c)
	}
	interval := time.Duration(float64(time.Second) * writerClients / rate)
	start := time.Now()
	for i, c := range w.conns {
		w.wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			next := start.Add(interval * time.Duration(i) / writerClients)
			if err := w.loop(ctx, c, r, rows, interval, next); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
			}
		})
	}
	return w, nil
}

func (w *writers) loop(ctx context.Context, c *pgx.Conn, r *rand.Rand, rows int, interval time.Duration, next time.Time) error {
	noteLen := noteBytes
	for {
		if wait := time.Until(next); wait > 0 {
			select {
			case <-w.stopc:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		select {
		case <-w.stopc:
			return nil
		default:
		}
		next = next.Add(interval)
		var err error
		switch op := r.IntN(4); op {
		case 0:
			_, err = c.Exec(ctx, benchRows.Insert(), r.IntN(1000), r.IntN(1_000_000)/100.0, workload.Note(r, noteLen))
		case 1, 2:
			_, err = c.Exec(ctx, benchRows.Update(), 1+r.IntN(rows), workload.Note(r, noteLen))
		default:
			_, err = c.Exec(ctx, `DELETE FROM `+benchRows.Name.Sanitize()+` WHERE id = $1`, 1+r.IntN(rows))
		}
		if err != nil {
			return fmt.Errorf("writer: %w", err)
		}
		w.count.Add(1)
	}
}

// stop ends the writers after their statements in flight, and returns the first error.
func (w *writers) stop() error {
	if !w.closed {
		close(w.stopc)
		w.closed = true
	}
	w.wg.Wait()
	w.close()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *writers) close() {
	for _, c := range w.conns {
		_ = c.Close(context.Background())
	}
	w.conns = nil
}
