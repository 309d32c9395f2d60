package broker

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/localserver"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// withTLSFiles is rawURL with the TLS query parameters that Dial reads.
func withTLSFiles(t *testing.T, rawURL, ca, cert, key string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	q := u.Query()
	for k, v := range map[string]string{"cacertfile": ca, "certfile": cert, "keyfile": key} {
		if v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func TestDialOverMutualTLS(t *testing.T) {
	t.Parallel() // a private node on ports of its own
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	pki, err := localserver.NewPKI(filepath.Join(dir, "pki"))
	require.NoError(t, err)
	other, err := localserver.NewPKI(filepath.Join(dir, "other"))
	require.NoError(t, err)
	node, err := localserver.StartRabbitMQWith(ctx, filepath.Join(dir, "node"),
		localserver.RabbitOptions{TLS: &localserver.ServerTLS{CAFile: pki.CAFile, CertFile: pki.ServerCert, KeyFile: pki.ServerKey}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = node.Close(context.Background()) })

	good := withTLSFiles(t, node.URL(), pki.CAFile, pki.ClientCert, pki.ClientKey)
	c, err := Dial(ctx, DialConfig{URL: good, Name: "pgfanout-test"})
	require.NoError(t, err)
	ch, err := c.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.Close())
	c.Close(time.Second)

	empty := filepath.Join(dir, "empty.pem")
	require.NoError(t, os.WriteFile(empty, []byte("not a certificate\n"), 0o644))
	cases := []struct {
		name, url, err, hint string
	}{
		{"a CA that did not sign the server's certificate", withTLSFiles(t, node.URL(), other.CAFile, pki.ClientCert, pki.ClientKey),
			"certificate signed by unknown authority", "not signed by a CA in --amqp-ca-file"},
		{"no client certificate", withTLSFiles(t, node.URL(), pki.CAFile, "", ""),
			"", "wants a client certificate"},
		{"a client certificate of another CA", withTLSFiles(t, node.URL(), pki.CAFile, other.ClientCert, other.ClientKey),
			"", "wants a client certificate"},
		{"a certificate without its key", withTLSFiles(t, node.URL(), pki.CAFile, pki.ClientCert, ""),
			"needs both its certificate file and its key file", ""},
		{"a CA file without certificates", withTLSFiles(t, node.URL(), empty, pki.ClientCert, pki.ClientKey),
			"holds no PEM certificate", ""},
		{"TLS to a plain AMQP port", withTLSFiles(t, "amqps"+testenv.AMQPURL(t)[len("amqp"):], pki.CAFile, "", ""),
			"", "speaks plain AMQP"},
	}
	for _, c := range cases {
		_, err := Dial(ctx, DialConfig{URL: c.url, Name: "pgfanout-test"})
		require.Error(t, err, c.name)
		require.NotContains(t, err.Error(), "guest:guest", c.name)
		if c.err != "" {
			require.ErrorContains(t, err, c.err, c.name)
		}
		require.Contains(t, Hint(err), c.hint, "%s: %v", c.name, err)
	}
}
