package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/pgfanout/pgfanout/internal/localserver"
	"github.com/pgfanout/pgfanout/internal/netfault"
	"github.com/pgfanout/pgfanout/internal/pgadmin"
)

// database is the name of the application database on every cluster.
const database = "app"

// pgServer is a private PostgreSQL cluster. mu is held by whoever stops and starts it, so
// that two faults never restart it at once.
type pgServer struct {
	name string
	pg   *localserver.Postgres
	mu   sync.Mutex
	held atomic.Bool // down for the long outage: other faults leave it alone
}

// url is the application database's URL, straight to the server.
func (s *pgServer) url() string { return s.pg.URL(database) }

// restart stops the server (fast: sessions are cut and it checkpoints; immediate: it dies
// as in a crash and recovers from its WAL at start), keeps it down for hold, and starts it.
func (s *pgServer) restart(ctx context.Context, mode string, hold time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if mode == "immediate" {
		err = s.pg.Kill()
	} else {
		err = s.pg.Stop(ctx)
	}
	if err != nil {
		return fmt.Errorf("stop %s (%s): %w", s.name, mode, err)
	}
	if err := pause(ctx, hold); err != nil {
		return err
	}
	return s.start(ctx)
}

// start starts the stopped server, trying again if pg_ctl gives up (it waits 60 s).
func (s *pgServer) start(ctx context.Context) error {
	var err error
	for range 3 {
		if err = s.pg.Start(ctx); err == nil || ctx.Err() != nil {
			return err
		}
	}
	return fmt.Errorf("start %s: %w", s.name, err)
}

// broker is the private RabbitMQ node.
type broker struct {
	node *localserver.RabbitMQ
	mu   sync.Mutex
}

// crash SIGKILLs the node's whole process group (the Erlang VM and its helpers, as the OOM
// killer or a power cut would end it), waits until its port is closed, keeps it down for
// hold and starts it again on the same ports and data.
func (b *broker) crash(ctx context.Context, hold time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	pid := b.node.PID()
	if pid == 0 {
		return errors.New("RabbitMQ is not running")
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("SIGKILL RabbitMQ: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.node.Port))
	if err := until(ctx, 30*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}); err != nil {
		return fmt.Errorf("RabbitMQ still accepts connections after SIGKILL: %w", err)
	}
	if err := pause(ctx, hold); err != nil {
		return err
	}
	var err error
	for range 3 {
		if err = b.node.Start(ctx); err == nil || ctx.Err() != nil {
			return err
		}
	}
	return fmt.Errorf("restart RabbitMQ: %w", err)
}

// rig is the servers and the proxies in front of them. The programs reach every server
// through a proxy per path; the workload, the checks and `replicator verify` go straight.
type rig struct {
	dir     string
	source  *pgServer
	repA    *pgServer
	repB    *pgServer
	mq      *broker
	proxies map[string]*netfault.Proxy
}

// startRig starts the three clusters and the node in parallel, each in a directory of its
// own under dir, creates the application databases and puts the proxies in front.
func startRig(ctx context.Context, dir string) (*rig, error) {
	r := &rig{dir: dir, source: &pgServer{name: "source"}, repA: &pgServer{name: "replica a"},
		repB: &pgServer{name: "replica b"}, mq: &broker{}, proxies: map[string]*netfault.Proxy{}}
	p := pool.New().WithErrors().WithContext(ctx)
	for _, s := range []*pgServer{r.source, r.repA, r.repB} {
		p.Go(func(ctx context.Context) (err error) {
			s.pg, err = localserver.StartPostgres(ctx, filepath.Join(dir, strings.ReplaceAll(s.name, " ", "-")))
			if err != nil {
				return err
			}
			return pgadmin.Exec(ctx, s.pg.URL("postgres"), "CREATE DATABASE "+database)
		})
	}
	p.Go(func(ctx context.Context) (err error) {
		r.mq.node, err = localserver.StartRabbitMQ(ctx, filepath.Join(dir, "rabbitmq"))
		return err
	})
	if err := p.Wait(); err != nil {
		r.close()
		return nil, err
	}
	targets := map[string]string{
		pathPub1Source: r.source.url(), pathPub2Source: r.source.url(), pathCopySource: r.source.url(),
		pathPubBroker: r.mq.node.URL(), pathRepBroker: r.mq.node.URL(),
		pathRepA: r.repA.url(), pathRepB: r.repB.url(),
	}
	for path, raw := range targets {
		u, err := url.Parse(raw)
		if err != nil {
			r.close()
			return nil, err
		}
		if r.proxies[path], err = netfault.New(u.Host); err != nil {
			r.close()
			return nil, err
		}
	}
	return r, nil
}

// via is rawURL with its host replaced by the proxy of path.
func (r *rig) via(path, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err) // our own URLs
	}
	u.Host = r.proxies[path].Addr()
	return u.String()
}

// replica is replica "a" or "b".
func (r *rig) replica(name string) *pgServer {
	if name == "b" {
		return r.repB
	}
	return r.repA
}

// close ends the proxies and the servers (the programs must be gone first).
func (r *rig) close() {
	for _, p := range r.proxies {
		_ = p.Close()
	}
	for _, s := range []*pgServer{r.source, r.repA, r.repB} {
		if s.pg != nil {
			_ = s.pg.Kill()
		}
	}
	if r.mq.node != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = r.mq.node.Close(ctx)
	}
}

// pause waits d, the length of a fault: not a wait for something to happen.
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// until polls cond every 100 ms until it holds, timeout passes (an error) or ctx ends.
func until(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		if err := pause(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}
