package netfault

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPassRelaysBothWaysAndHalfCloses(t *testing.T) {
	t.Parallel()
	p, accepted := start(t)
	client, server := connect(t, p, accepted)
	exchange(t, client, server)
	require.Equal(t, Stats{Accepted: 1, Open: 1}, p.Stats())

	// 1 MiB each way at once, so neither direction waits for the other.
	up, down := make([]byte, 1<<20), make([]byte, 1<<20)
	_, _ = rand.Read(up)
	_, _ = rand.Read(down)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(server, int64(len(up))))
		got <- b
	}()
	require.NoError(t, client.SetDeadline(time.Now().Add(patient)))
	require.NoError(t, server.SetDeadline(time.Now().Add(patient)))
	go func() { _, _ = server.Write(down) }()
	_, err := client.Write(up)
	require.NoError(t, err)
	b := make([]byte, len(down))
	_, err = io.ReadFull(client, b)
	require.NoError(t, err)
	require.True(t, bytes.Equal(down, b), "server to client bytes differ")
	require.True(t, bytes.Equal(up, <-got), "client to server bytes differ")

	// The client's half-close reaches the server, which can still answer.
	require.NoError(t, client.(*net.TCPConn).CloseWrite())
	ended(t, server)
	send(t, server, "bye")
	receive(t, client, "bye")
	require.NoError(t, server.Close())
	ended(t, client)
	openRelays(t, p, 0)
	require.Equal(t, 1, p.Stats().Accepted)
}

func TestBlackholeSilencesBothWaysWithoutClosing(t *testing.T) {
	t.Parallel()
	p, accepted := start(t)
	client, server := connect(t, p, accepted)
	exchange(t, client, server)

	p.Blackhole()
	send(t, client, "lost")
	silent(t, server)
	send(t, server, "lost")
	silent(t, client)
	require.NoError(t, client.Close())
	silent(t, server) // the client's FIN does not cross the partition either

	late := dial(t, p.Addr()) // accepted, but never reaches the target
	acceptedRelays(t, p, 2)
	noConn(t, accepted)
	send(t, late, "lost")
	silent(t, late)
	require.Equal(t, Stats{Accepted: 2, Open: 2}, p.Stats())
}

func TestHealPassesNewConnectionsOnly(t *testing.T) {
	t.Parallel()
	p, accepted := start(t)
	oldClient, oldServer := connect(t, p, accepted)
	exchange(t, oldClient, oldServer)

	p.Blackhole()
	late := dial(t, p.Addr())
	acceptedRelays(t, p, 2) // so it meets the partition
	p.Heal()

	client, server := connect(t, p, accepted)
	exchange(t, client, server)

	send(t, oldClient, "lost")
	silent(t, oldServer)
	send(t, oldServer, "lost")
	silent(t, oldClient)
	send(t, late, "lost")
	noConn(t, accepted)
	silent(t, late)
	require.Equal(t, Stats{Accepted: 3, Open: 3}, p.Stats())

	p.Cut() // the partitioned relays end only now
	ended(t, oldClient)
	ended(t, oldServer)
	ended(t, late)
	ended(t, client)
	openRelays(t, p, 0)
}

func TestResumeAfterHealDeliversHeldBytes(t *testing.T) {
	t.Parallel()
	p, accepted := start(t, ResumeAfterHeal())
	client, server := connect(t, p, accepted)
	exchange(t, client, server)

	p.Blackhole()
	send(t, client, "held")
	silent(t, server)
	send(t, server, "back")
	silent(t, client)
	late := dial(t, p.Addr())
	send(t, late, "early")
	acceptedRelays(t, p, 2)
	noConn(t, accepted)

	p.Heal()
	receive(t, server, "held")
	receive(t, client, "back")
	exchange(t, client, server)
	receive(t, next(t, accepted), "early") // dialled once the partition healed
}

func TestCutEndsBothSides(t *testing.T) {
	t.Parallel()
	p, accepted := start(t)
	c1, s1 := connect(t, p, accepted)
	c2, s2 := connect(t, p, accepted)
	exchange(t, c1, s1)
	openRelays(t, p, 2)

	p.Cut()
	for _, c := range []net.Conn{c1, s1, c2, s2} {
		ended(t, c)
	}
	openRelays(t, p, 0)

	client, server := connect(t, p, accepted)
	exchange(t, client, server)
	require.Equal(t, Stats{Accepted: 3, Open: 1}, p.Stats())
}

func TestDelayAddsLatencyEachWay(t *testing.T) {
	t.Parallel()
	const d = 100 * time.Millisecond
	p, accepted := start(t)
	client, server := connect(t, p, accepted)

	p.Delay(d)
	began := time.Now()
	send(t, client, "ping")
	receive(t, server, "ping")
	require.GreaterOrEqual(t, time.Since(began), d)
	send(t, server, "pong")
	receive(t, client, "pong")
	require.GreaterOrEqual(t, time.Since(began), 2*d, "round trip")

	// Delay(0) releases a chunk that waits for a long delay.
	p.Delay(time.Hour)
	send(t, client, "slow")
	silent(t, server)
	p.Delay(0)
	receive(t, server, "slow")
}

func TestUnreachableTargetEndsTheClient(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	p, err := New(addr)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	c, err := net.DialTimeout("tcp", p.Addr(), patient)
	if err == nil { // else the reset came before connect returned
		t.Cleanup(func() { c.Close() })
		ended(t, c)
	}
	acceptedRelays(t, p, 1)
	openRelays(t, p, 0)
}

func TestCloseEndsEveryRelay(t *testing.T) {
	t.Parallel()
	addr, accepted := upstream(t)
	p, err := New(addr, ResumeAfterHeal())
	require.NoError(t, err)
	client, server := connect(t, p, accepted)
	exchange(t, client, server)
	p.Blackhole()
	waiting := dial(t, p.Addr()) // not dialled out yet
	p.Delay(time.Hour)
	openRelays(t, p, 2)

	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "Close twice")
	require.Zero(t, p.Stats().Open)
	ended(t, client)
	ended(t, server)
	ended(t, waiting)
	_, err = net.DialTimeout("tcp", p.Addr(), patient)
	require.Error(t, err, "still listening")
}
