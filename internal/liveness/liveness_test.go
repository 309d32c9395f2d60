package liveness

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestDialerSetsUserTimeoutAndKeepalive(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	s := Settings{Timeout: 7 * time.Second, KeepAlive: 3 * time.Second, Heartbeat: time.Second}
	conn, err := s.Dialer().DialContext(context.Background(), "tcp", l.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	raw, err := conn.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	var userTimeout, keepalive, idle, intvl, count int
	require.NoError(t, raw.Control(func(fd uintptr) {
		userTimeout, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
		keepalive, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		idle, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
		intvl, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
		count, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
	}))
	require.Equal(t, 7000, userTimeout)
	require.Equal(t, 1, keepalive)
	require.Equal(t, []int{3, 3, 3}, []int{idle, intvl, count})
}

func TestDefaultsAndValidate(t *testing.T) {
	require.NoError(t, Settings{}.WithDefaults().Validate())
	require.Equal(t, Defaults(), Settings{}.WithDefaults())
	require.Error(t, Settings{Timeout: time.Millisecond, KeepAlive: time.Second, Heartbeat: time.Second}.Validate())
}

func TestTimedOut(t *testing.T) {
	live := context.Background()
	call, cancel := Settings{Timeout: time.Millisecond}.Call(live)
	defer cancel()
	<-call.Done()
	require.True(t, TimedOut(live, call.Err()), "a call's deadline on a live context is the connection's fault")
	dead, stop := context.WithCancel(live)
	stop()
	require.False(t, TimedOut(dead, context.DeadlineExceeded), "a cancelled caller is not a dead connection")
	require.False(t, TimedOut(live, errors.New("syntax error")))
}

func TestPGSetsTheServerSideToo(t *testing.T) {
	cfg, err := pgconn.ParseConfig("postgres://u@127.0.0.1:5432/db?tcp_keepalives_count=9")
	require.NoError(t, err)
	Settings{Timeout: 7 * time.Second, KeepAlive: 3 * time.Second, Heartbeat: time.Second}.PG(cfg)
	require.Equal(t, "3", cfg.RuntimeParams["tcp_keepalives_idle"])
	require.Equal(t, "3", cfg.RuntimeParams["tcp_keepalives_interval"])
	require.Equal(t, "9", cfg.RuntimeParams["tcp_keepalives_count"], "the URL wins")
	require.Equal(t, "7000", cfg.RuntimeParams["tcp_user_timeout"])
	require.Equal(t, 7*time.Second, cfg.ConnectTimeout)
	require.NotNil(t, cfg.DialFunc)
}
