package netfault

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	silence = 200 * time.Millisecond // how long a peer must hear nothing to count as silent
	patient = 10 * time.Second       // how long to wait for something that must happen
)

// upstream is a target server: it hands over every connection it accepts.
func upstream(t *testing.T) (addr string, accepted <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ch := make(chan net.Conn, 16)
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			select {
			case ch <- c:
			default: // a test that dials more than it takes; closed at cleanup all the same
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), ch
}

// start puts a proxy in front of a new upstream.
func start(t *testing.T, opts ...Option) (*Proxy, <-chan net.Conn) {
	t.Helper()
	addr, accepted := upstream(t)
	p, err := New(addr, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p, accepted
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, patient)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// connect dials through p and returns both ends once the upstream accepted.
func connect(t *testing.T, p *Proxy, accepted <-chan net.Conn) (client, server net.Conn) {
	t.Helper()
	client = dial(t, p.Addr())
	return client, next(t, accepted)
}

func next(t *testing.T, accepted <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-accepted:
		return c
	case <-time.After(patient):
		require.FailNow(t, "upstream accepted no connection")
		return nil
	}
}

func noConn(t *testing.T, accepted <-chan net.Conn) {
	t.Helper()
	select {
	case <-accepted:
		require.FailNow(t, "upstream accepted a connection during the partition")
	case <-time.After(silence):
	}
}

func send(t *testing.T, c net.Conn, s string) {
	t.Helper()
	_, err := c.Write([]byte(s))
	require.NoError(t, err)
}

// receive reads exactly len(want) bytes and requires them to be want.
func receive(t *testing.T, c net.Conn, want string) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(patient)))
	got := make([]byte, len(want))
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, want, string(got))
}

// exchange requires bytes to pass both ways between client and server.
func exchange(t *testing.T, client, server net.Conn) {
	t.Helper()
	send(t, client, "ping")
	receive(t, server, "ping")
	send(t, server, "pong")
	receive(t, client, "pong")
}

// silent requires c to read nothing, not even an end, for the silence window.
func silent(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(silence)))
	n, err := c.Read(make([]byte, 1))
	require.Zero(t, n, "bytes got through")
	var ne net.Error
	require.ErrorAs(t, err, &ne, "the connection ended: %v", err)
	require.True(t, ne.Timeout(), "not a timeout: %v", err)
}

// ended requires c's next read to find the connection closed or reset.
func ended(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(patient)))
	_, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) {
		require.False(t, ne.Timeout(), "the connection did not end")
	}
}

// openRelays waits until p has want relays open: a relay ends on its own goroutines, after
// both its connections did.
func openRelays(t *testing.T, p *Proxy, want int) {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("%d open relays", want), patient, func() bool { return p.Stats().Open == want })
}

// acceptedRelays waits until p accepted want connections, so that a test knows which mode
// they met.
func acceptedRelays(t *testing.T, p *Proxy, want int) {
	t.Helper()
	testenv.Eventually(t, fmt.Sprintf("%d accepted relays", want), patient, func() bool { return p.Stats().Accepted == want })
}
