// Package liveness is how every connection pgfanout holds notices a peer that vanished
// without closing it (a network partition, a dead host): TCP keepalives and TCP_USER_TIMEOUT
// for what the kernel can see, a deadline on every round trip and heartbeats for what it
// cannot (a peer whose socket still answers at the TCP level, such as a proxy or a frozen
// process). With the defaults a dead connection is noticed within 25 s, whatever is in flight.
package liveness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sys/unix"
)

// Settings are the liveness knobs, shared by every connection of a process.
type Settings struct {
	// Timeout bounds every round trip to PostgreSQL (a statement, a commit, a ping) and how long
	// sent data may stay unacknowledged by the peer's TCP (TCP_USER_TIMEOUT). A connection that
	// exceeds it is closed and replaced.
	Timeout time.Duration
	// KeepAlive is the idle time before the first TCP keepalive probe and the interval between
	// probes (3 unanswered probes end the connection); idle connections also ping this often.
	KeepAlive time.Duration
	// Heartbeat is the AMQP heartbeat interval; RabbitMQ silent for 3 intervals is dead.
	Heartbeat time.Duration
}

// Defaults are the documented defaults of --io-timeout, --tcp-keepalive and --amqp-heartbeat.
func Defaults() Settings {
	return Settings{Timeout: 20 * time.Second, KeepAlive: 5 * time.Second, Heartbeat: 5 * time.Second}
}

// WithDefaults fills zero fields from Defaults.
func (s Settings) WithDefaults() Settings {
	d := Defaults()
	if s.Timeout <= 0 {
		s.Timeout = d.Timeout
	}
	if s.KeepAlive <= 0 {
		s.KeepAlive = d.KeepAlive
	}
	if s.Heartbeat <= 0 {
		s.Heartbeat = d.Heartbeat
	}
	return s
}

// Validate reports settings that cannot work.
func (s Settings) Validate() error {
	if s.Timeout < time.Second || s.KeepAlive < 100*time.Millisecond || s.Heartbeat < time.Second {
		return errors.New("liveness: --io-timeout and --amqp-heartbeat must be at least 1s, --tcp-keepalive at least 100ms")
	}
	return nil
}

// Dialer is a TCP dialer with keepalives and TCP_USER_TIMEOUT set on every connection.
func (s Settings) Dialer() *net.Dialer {
	return &net.Dialer{
		Timeout: s.Timeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: s.KeepAlive, Interval: s.KeepAlive, Count: 3,
		},
		Control: func(network, _ string, c syscall.RawConn) error {
			if network != "tcp" && network != "tcp4" && network != "tcp6" {
				return nil // unix sockets have no TCP options
			}
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(s.Timeout.Milliseconds()))
			})
			if err != nil {
				return err
			}
			if serr != nil {
				return fmt.Errorf("set TCP_USER_TIMEOUT: %w", serr)
			}
			return nil
		},
	}
}

// PG applies the settings to a PostgreSQL connection configuration: the dialer above, a
// connect timeout (the startup handshake included) unless the URL set connect_timeout, and
// the same keepalives and user timeout for the server's end of the connection (unless the
// URL sets them), so that a backend whose client vanished in a partition exits in seconds
// and releases its locks, rather than after the server's default two hours.
func (s Settings) PG(cfg *pgconn.Config) {
	d := s.Dialer()
	cfg.DialFunc = d.DialContext
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = s.Timeout
	}
	secs := strconv.Itoa(max(1, int(s.KeepAlive.Seconds())))
	for k, v := range map[string]string{
		"tcp_keepalives_idle":     secs,
		"tcp_keepalives_interval": secs,
		"tcp_keepalives_count":    "3",
		"tcp_user_timeout":        strconv.FormatInt(s.Timeout.Milliseconds(), 10),
	} {
		if _, set := cfg.RuntimeParams[k]; !set {
			cfg.RuntimeParams[k] = v
		}
	}
}

// Call returns ctx bounded by Timeout, for one round trip to PostgreSQL. pgx turns the
// deadline into a socket deadline, so a call on a dead connection fails instead of hanging,
// and the connection is closed.
func (s Settings) Call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.Timeout)
}

// TimedOut reports whether err is a round trip that exceeded its deadline while ctx, the
// caller's own context, is still live: the connection, not the caller, is at fault.
func TimedOut(ctx context.Context, err error) bool {
	return ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || isNetTimeout(err))
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
