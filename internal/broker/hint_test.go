package broker

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
)

// Every form in which amqp091 reports a TLS connection that RabbitMQ closed during the AMQP
// handshake (they race: which one shows depends on who notices the close first).
func TestClosedInHandshake(t *testing.T) {
	for _, c := range []struct {
		err    error
		closed bool
	}{
		{io.EOF, true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{fmt.Errorf("write: %w", syscall.EPIPE), true},
		{&net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}, true},
		{amqp.ErrClosed, true},
		{&amqp.Error{Code: amqp.FrameError, Reason: "frame could not be parsed"}, true},
		{&amqp.Error{Code: amqp.AccessRefused, Reason: "username or password not allowed"}, false},
		{errors.New("dial tcp: connection refused"), false},
	} {
		require.Equal(t, c.closed, closedInHandshake(c.err), "%v", c.err)
	}
}
