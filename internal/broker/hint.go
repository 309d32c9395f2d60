package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Hint says what to check for errors a retry will not fix by itself, or "" for the others
// (connection losses, broker restarts), which reconnecting does fix.
func Hint(err error) string {
	if h := tlsHint(err); h != "" {
		return h
	}
	var amqpErr *amqp.Error
	if !errors.As(err, &amqpErr) {
		return ""
	}
	switch amqpErr.Code {
	case amqp.AccessRefused:
		return "RabbitMQ refused the credentials or permissions: check the user and password in --amqp-url"
	case amqp.NotAllowed:
		return "RabbitMQ refused the virtual host: check the vhost in --amqp-url and the user's permissions on it"
	case amqp.PreconditionFailed:
		switch {
		case strings.Contains(amqpErr.Reason, "max size"):
			// The change stays in the log and blocks those after it until the limit is raised.
			return "a change is larger than RabbitMQ's max_message_size: raise it in rabbitmq.conf"
		case strings.Contains(amqpErr.Reason, "exchange"):
			return "the exchange exists with another type or arguments: --exchange must name a durable topic exchange"
		case strings.Contains(amqpErr.Reason, "queue"):
			return "the queue exists with other arguments (declared by another pgfanout version or by hand): delete it, or use another --replica-name"
		}
	}
	return ""
}

// tlsHint explains a failed TLS handshake with RabbitMQ.
func tlsHint(err error) string {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		record    tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknownCA):
		return "RabbitMQ's certificate is not signed by a CA in --amqp-ca-file (or, without it, the system's): check the CA file"
	case errors.As(err, &hostname):
		return "RabbitMQ's certificate does not name the host of --amqp-url: connect by a name the certificate holds"
	case errors.As(err, &invalid):
		return "RabbitMQ's certificate is not valid now (expired, or not yet valid): renew it"
	case errors.As(err, &record):
		return "the port of an amqps:// URL speaks plain AMQP: use amqp://, or RabbitMQ's TLS port"
	case errors.As(err, &tlsRefusedError{}):
		return "RabbitMQ closed the TLS connection during the handshake: it probably wants a client certificate signed by a CA it trusts: check --amqp-cert-file and --amqp-key-file"
	}
	return ""
}

// tlsRefusedError is a TLS connection that RabbitMQ closed before the AMQP handshake ended.
// With TLS 1.3 the server checks the client's certificate after the client finished its TLS
// handshake, so a refused certificate (or a missing one) shows as an alert or a closed
// connection while amqp091 waits for connection.start, both reported as AMQP errors that
// say nothing of TLS.
type tlsRefusedError struct{ error }

func (e tlsRefusedError) Unwrap() error { return e.error }

// closedInHandshake reports the errors amqp091 returns when the connection ended during its
// handshake: a failed read (an alert, EOF, a reset), the connection already closed (by
// amqp091 itself, when its reader saw the close first: "use of closed network connection"),
// or a failed write.
func closedInHandshake(err error) bool {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		return ae.Code == amqp.FrameError || ae.Code == amqp.ChannelError && ae.Reason == amqp.ErrClosed.Reason
	}
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}
