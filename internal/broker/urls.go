package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
)

// SplitURLs splits a comma-separated list of AMQP URLs (the form --amqp-url and
// PGFANOUT_AMQP_URL take, and DialConfig.URL) into its URLs, spaces around them trimmed. A
// comma separates two URLs only where amqp:// or amqps:// follows it, so a comma inside a
// URL (in a password) stays where it is.
func SplitURLs(list string) []string {
	var urls []string
	add := func(u string) {
		if u = strings.Trim(u, " \t,"); u != "" {
			urls = append(urls, u)
		}
	}
	start := 0
	for i := range len(list) {
		if list[i] == ',' && hasAMQPScheme(strings.TrimLeft(list[i+1:], " \t")) {
			add(list[start:i])
			start = i + 1
		}
	}
	add(list[start:])
	return urls
}

func hasAMQPScheme(s string) bool {
	s = strings.ToLower(s)
	return strings.HasPrefix(s, "amqp://") || strings.HasPrefix(s, "amqps://")
}

// tlsConfig is the TLS configuration of an amqps:// URL, from its query parameters (as
// amqp091 reads them): cacertfile, the PEM file of the CAs that RabbitMQ's certificate must
// chain to (the system's when absent); certfile and keyfile, the client certificate RabbitMQ
// may require; server_name_indication, the name the certificate must hold (else the
// URL's host). Files are read at every dial, so renewed certificates are picked up on the
// next reconnect.
func tlsConfig(uri amqp.URI) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: uri.ServerName}
	if uri.CACertFile != "" {
		pem, err := os.ReadFile(uri.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("read the CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", uri.CACertFile)
		}
	}
	switch {
	case uri.CertFile == "" && uri.KeyFile == "":
	case uri.CertFile == "" || uri.KeyFile == "":
		return nil, errors.New("a client certificate needs both its certificate file and its key file")
	default:
		cert, err := tls.LoadX509KeyPair(uri.CertFile, uri.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load the client certificate %s with key %s: %w", uri.CertFile, uri.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
