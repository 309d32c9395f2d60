package localserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
)

func tlsConfig(t *testing.T, p *PKI, withClientCert bool) *tls.Config {
	t.Helper()
	ca, err := os.ReadFile(p.CAFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca))
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if withClientCert {
		cert, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
		require.NoError(t, err)
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

func TestRabbitMQOverTLSRequiresAClientCertificate(t *testing.T) {
	t.Parallel() // a private node on ports of its own
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	pki, err := NewPKI(dir + "/pki")
	require.NoError(t, err)
	r, err := StartRabbitMQWith(ctx, dir+"/node", RabbitOptions{TLS: &ServerTLS{CAFile: pki.CAFile, CertFile: pki.ServerCert, KeyFile: pki.ServerKey}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	require.Contains(t, r.URL(), "amqps://")

	conn, err := amqp.DialTLS(r.URL(), tlsConfig(t, pki, true))
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	_, err = amqp.DialTLS(r.URL(), tlsConfig(t, pki, false))
	require.Error(t, err, "fail_if_no_peer_cert refuses a client without a certificate")
	plain := "amqp://guest:guest@" + loopback(r.Port) + "/"
	_, err = amqp.Dial(plain)
	require.Error(t, err, "the node speaks TLS only")
}

func TestPostgresOverTLSWithVerifyFull(t *testing.T) {
	t.Parallel() // a private server on a port of its own
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	pki, err := NewPKI(dir + "/pki")
	require.NoError(t, err)
	other, err := NewPKI(dir + "/other")
	require.NoError(t, err)
	pg, err := StartPostgresTLS(ctx, dir+"/pg", pki.ServerCert, pki.ServerKey)
	if errors.Is(err, ErrNoPostgres) {
		t.Skip(err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Kill() })

	verified := func(ca string) string {
		u, err := url.Parse(pg.URL("postgres"))
		require.NoError(t, err)
		u.Host = "localhost:" + u.Port()
		u.RawQuery = url.Values{"sslmode": {"verify-full"}, "sslrootcert": {ca}}.Encode()
		return u.String()
	}
	conn, err := pgx.Connect(ctx, verified(pki.CAFile))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var ssl bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl))
	require.True(t, ssl)

	_, err = pgx.Connect(ctx, verified(other.CAFile))
	require.ErrorContains(t, err, "certificate signed by unknown authority")
}
