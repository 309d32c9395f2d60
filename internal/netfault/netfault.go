// Package netfault is a TCP proxy that tests put between a component and the server it
// talks to, to partition, cut or slow the network between them on demand.
//
// A test starts the real server (PostgreSQL, RabbitMQ, …), puts a Proxy in front of it and
// points the component's URL at Proxy.Addr() instead of the server's address:
//
//	p, err := netfault.New("127.0.0.1:5672")
//	require.NoError(t, err)
//	t.Cleanup(func() { require.NoError(t, p.Close()) })
//	u, _ := url.Parse(amqpURL)
//	u.Host = p.Addr() // the component now reaches RabbitMQ only through p
//	...
//	p.Blackhole() // partition: the component must notice by its own heartbeats or timeouts
//	p.Heal()      // new connections pass again; the partitioned ones stay silent
//	p.Cut()       // or: every connection ends at once, as after a reset
//	p.Delay(50 * time.Millisecond)
//
// Modes can be switched at any time from any goroutine. Bytes that were already being
// written to a peer when a mode changes still arrive; nothing read after the change does.
//
// The proxy is written here instead of using toxiproxy as a library: toxiproxy's server
// brings an HTTP API, a CLI framework and global toxic registries, and its "timeout" toxic
// closes the connection when it is removed, so it cannot leave a partitioned connection
// silent after the partition heals.
package netfault

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// chunkQueue is how many chunks a direction holds between reading and writing. It lets
// Delay add latency without cutting throughput to one chunk per delay.
const chunkQueue = 128

// Option configures a Proxy.
type Option func(*Proxy)

// ResumeAfterHeal makes Heal resume the connections that lived through the partition too,
// with every byte held back during it, as TCP does when a short partition ends before
// either side gave up. By default they stay silent until Cut or Close, as a real network's
// peers would have reset them.
func ResumeAfterHeal() Option { return func(p *Proxy) { p.resume = true } }

// Stats counts the proxy's relays (one relay is one client connection and the proxy's
// connection to the target).
type Stats struct {
	Accepted int // client connections accepted since New
	Open     int // relays not yet closed
}

// Proxy relays TCP connections from its own loopback address to a target address. It
// serves from New until Close.
type Proxy struct {
	target string
	ln     net.Listener
	resume bool
	ctx    context.Context // cancelled by Close; ends dials in progress
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loop and relays

	mu        sync.Mutex
	blackhole bool
	delay     time.Duration
	changed   chan struct{} // closed and replaced on every change, to wake waiting relays
	relays    map[*relay]struct{}
	accepted  int
	closed    bool
}

// New listens on 127.0.0.1 at a free port and relays every connection to target
// ("host:port"). target is dialled for each accepted connection, when it may first pass,
// so it need not be up yet.
func New(target string, opts ...Option) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("netfault listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{target: target, ln: ln, ctx: ctx, cancel: cancel,
		changed: make(chan struct{}), relays: make(map[*relay]struct{})}
	for _, o := range opts {
		o(p)
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's "127.0.0.1:port", to use in place of the target's address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Blackhole partitions the network: no relay forwards anything in either direction, and
// nothing is closed, so the peers see silence, not an end. The proxy stops reading, so a
// busy sender's writes block once the socket buffers are full. The kernel still ACKs on
// loopback: only application-level liveness (heartbeats, keepalive queries, read deadlines)
// can notice. Connections accepted during the partition get no byte through either.
func (p *Proxy) Blackhole() {
	p.update(func() {
		p.blackhole = true
		if !p.resume {
			for r := range p.relays {
				r.dead = true
			}
		}
	})
}

// Heal ends a partition: new connections pass again. Those that lived through it stay
// silent until Cut or Close, unless the proxy was made with ResumeAfterHeal.
func (p *Proxy) Heal() { p.update(func() { p.blackhole = false }) }

// Delay adds latency d to every chunk forwarded from now on, in each direction; Delay(0)
// removes it.
func (p *Proxy) Delay(d time.Duration) { p.update(func() { p.delay = d }) }

// Cut resets every current relay: both peers see their connection end at once. New
// connections are relayed as before.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for r := range p.relays {
		r.close(true)
	}
}

// Stats returns the relay counts.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Accepted: p.accepted, Open: len(p.relays)}
}

// Close stops listening, closes every relay and returns when all its goroutines ended.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	err := p.ln.Close()
	for r := range p.relays {
		r.close(false)
	}
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("netfault close: %w", err)
	}
	return nil
}

// update changes the mode under the lock and wakes every waiting relay to re-check it.
func (p *Proxy) update(change func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	change()
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed by Close; on loopback nothing else fails that Close does not
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		r := &relay{client: c, done: make(chan struct{}), dead: p.blackhole && !p.resume}
		p.relays[r] = struct{}{}
		p.accepted++
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(r)
	}
}

// serve dials the target once r may pass, then runs both directions until r closes.
func (p *Proxy) serve(r *relay) {
	defer p.wg.Done()
	defer p.forget(r)
	defer r.close(false)
	if !p.hold(r, time.Time{}) {
		return
	}
	var d net.Dialer
	server, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		r.close(true) // the client sees a reset, as it would from a closed port
		return
	}
	if !r.attach(server) {
		return
	}
	var wg sync.WaitGroup
	for _, dir := range [][2]net.Conn{{r.client, server}, {server, r.client}} {
		ch := make(chan chunk, chunkQueue)
		wg.Add(2)
		go func() { defer wg.Done(); p.read(r, dir[0], ch) }()
		go func() { defer wg.Done(); p.write(r, dir[1], ch) }()
	}
	wg.Wait()
}

func (p *Proxy) forget(r *relay) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.relays, r)
}

// chunk is what one Read returned, with the time it returned.
type chunk struct {
	data []byte
	err  error // io.EOF: the peer closed its side
	at   time.Time
}

// read moves src's chunks to out. It waits before handing one over while r may not pass,
// so during a partition it stops reading and the sender feels TCP's backpressure.
func (p *Proxy) read(r *relay, src net.Conn, out chan<- chunk) {
	defer close(out)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		c := chunk{data: bytes.Clone(buf[:n]), err: err, at: time.Now()}
		if !p.hold(r, time.Time{}) {
			return
		}
		select {
		case out <- c:
		case <-r.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// write forwards in's chunks to dst, each once r may pass and its delay has run out. A
// peer's close is passed on as a half-close, any other read error as a reset.
func (p *Proxy) write(r *relay, dst net.Conn, in <-chan chunk) {
	for c := range in {
		if !p.hold(r, c.at) {
			return
		}
		if len(c.data) > 0 {
			if _, err := dst.Write(c.data); err != nil {
				r.close(true)
				return
			}
		}
		switch {
		case c.err == io.EOF:
			if err := dst.(*net.TCPConn).CloseWrite(); err != nil {
				r.close(true)
				return
			}
		case c.err != nil:
			r.close(true)
			return
		}
	}
}

// hold waits until r may pass and the delay counted from at has run out. It reports false
// when r closed first.
func (p *Proxy) hold(r *relay, at time.Time) bool {
	for {
		p.mu.Lock()
		open, delay, changed := !p.blackhole && !r.dead, p.delay, p.changed
		p.mu.Unlock()
		var due <-chan time.Time
		if open {
			wait := time.Until(at.Add(delay))
			if wait <= 0 {
				return true
			}
			due = time.After(wait)
		}
		select {
		case <-due:
		case <-changed:
		case <-r.done:
			return false
		}
	}
}

// relay is one client connection and, once dialled, the proxy's connection to the target.
type relay struct {
	client net.Conn
	done   chan struct{} // closed by close
	dead   bool          // lived through a partition and stays silent; guarded by Proxy.mu

	mu     sync.Mutex
	server net.Conn
	closed bool
}

// attach sets the target connection; it reports false, and closes server, if r closed
// while it was dialled.
func (r *relay) attach(server net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		server.Close()
		return false
	}
	r.server = server
	return true
}

// close ends both connections, with a reset instead of a FIN when rst is set.
func (r *relay) close(rst bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	close(r.done)
	for _, c := range []net.Conn{r.client, r.server} {
		if c == nil {
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok && rst {
			tc.SetLinger(0) // close sends RST, as a cut connection's peers see
		}
		c.Close()
	}
}
