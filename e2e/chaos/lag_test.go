package chaos

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// healthyLag is the lag under which a replica counts as keeping up.
const healthyLag = 2 * time.Second

// probe measures each replica's lag all along the run: every 500 ms the source's beat row
// gets the next number, and every 500 ms each replica's copy of it is read. A replica's lag
// is how long ago the source committed the first beat the replica does not have yet (0 when
// it has the last), so a source that is down makes no replica look late.
type probe struct {
	source  string
	replica [2]string // a, b

	mu      sync.Mutex
	beats   []beat // committed, in order
	samples []sample
}

type beat struct {
	n  int64
	at time.Time // sent: the commit came at most this long after
}

type sample struct {
	at  time.Time
	lag [2]time.Duration
	ok  [2]bool // the replica answered
}

// write numbers the beat row until ctx ends.
func (p *probe) write(ctx context.Context) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	tick := time.NewTicker(500 * time.Millisecond) // the probe's resolution
	defer tick.Stop()
	for n := int64(1); ; {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if conn == nil {
			conn, _ = pgx.Connect(cctx, p.source)
		}
		if conn != nil {
			sent := time.Now()
			_, err := conn.Exec(cctx, `UPDATE beat SET n = $1, at = clock_timestamp() WHERE id = 1`, n)
			if err == nil {
				p.mu.Lock()
				p.beats = append(p.beats, beat{n: n, at: sent})
				p.mu.Unlock()
			} else {
				_ = conn.Close(context.Background())
				conn = nil
			}
			n++ // a beat in doubt may have committed: never reuse its number
		}
		cancel()
	}
}

// read samples both replicas' lag until ctx ends.
func (p *probe) read(ctx context.Context) {
	var conns [2]*pgx.Conn
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close(context.Background())
			}
		}
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s := sample{at: time.Now()}
		for i := range conns {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			if conns[i] == nil {
				conns[i], _ = pgx.Connect(cctx, p.replica[i])
			}
			if conns[i] != nil {
				var n int64
				if err := conns[i].QueryRow(cctx, `SELECT n FROM beat WHERE id = 1`).Scan(&n); err == nil {
					s.lag[i], s.ok[i] = p.lagOf(n, s.at), true
				} else {
					_ = conns[i].Close(context.Background())
					conns[i] = nil
				}
			}
			cancel()
		}
		p.mu.Lock()
		p.samples = append(p.samples, s)
		p.mu.Unlock()
	}
}

// lagOf is the lag of a replica holding beat n at now.
func (p *probe) lagOf(n int64, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := sort.Search(len(p.beats), func(i int) bool { return p.beats[i].n > n })
	if i == len(p.beats) {
		return 0
	}
	return now.Sub(p.beats[i].at)
}

// last is the latest sample.
func (p *probe) last() sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.samples) == 0 {
		return sample{}
	}
	return p.samples[len(p.samples)-1]
}

// maxLag is each replica's largest lag seen outside skip.
func (p *probe) maxLag(skipB func(time.Time) bool) [2]time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var m [2]time.Duration
	for _, s := range p.samples {
		for i := range m {
			if s.ok[i] && !(i == 1 && skipB(s.at)) {
				m[i] = max(m[i], s.lag[i])
			}
		}
	}
	return m
}
