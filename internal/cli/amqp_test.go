package cli

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/peterbourgon/ff/v3"
	"github.com/stretchr/testify/require"
)

// parseAMQP parses args and env (NAME=value) as a program's flags would be.
func parseAMQP(t *testing.T, args []string, env map[string]string) (AMQP, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var a AMQP
	fs := NewFlagSet("prog", &bytes.Buffer{})
	a.Flags(fs)
	if err := ff.Parse(fs, args, EnvOptions()...); err != nil {
		return a, err
	}
	return a, nil
}

func TestAMQPURLs(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "c.pem"), filepath.Join(dir, "c.key")
	for _, f := range []string{ca, cert, key} {
		require.NoError(t, os.WriteFile(f, nil, 0o600))
	}
	tlsQuery := "?" + url.Values{"cacertfile": {ca}, "certfile": {cert}, "keyfile": {key}}.Encode()
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
		err  string
	}{
		{name: "none"},
		{name: "one URL, unchanged", args: []string{"--amqp-url", "amqp://u:p@h:5672/v%2Fx"}, want: "amqp://u:p@h:5672/v%2Fx"},
		{name: "repeated", args: []string{"--amqp-url", "amqp://a/", "--amqp-url", "amqp://b/"}, want: "amqp://a/,amqp://b/"},
		{name: "comma-separated", args: []string{"--amqp-url", "amqp://a/, amqp://b/"}, want: "amqp://a/,amqp://b/"},
		{name: "both", args: []string{"--amqp-url", "amqp://a/,amqp://b/", "--amqp-url", "amqp://c/"}, want: "amqp://a/,amqp://b/,amqp://c/"},
		{name: "environment", env: map[string]string{"PGFANOUT_AMQP_URL": "amqp://a/,amqp://b/"}, want: "amqp://a/,amqp://b/"},
		{name: "the command line wins", args: []string{"--amqp-url", "amqp://c/"}, env: map[string]string{"PGFANOUT_AMQP_URL": "amqp://a/,amqp://b/"}, want: "amqp://c/"},
		{name: "TLS files", args: []string{"--amqp-url", "amqps://a:5671/,amqps://b:5671/", "--amqp-ca-file", ca, "--amqp-cert-file", cert, "--amqp-key-file", key},
			want: "amqps://a:5671/" + tlsQuery + ",amqps://b:5671/" + tlsQuery},
		{name: "TLS files from the environment", args: []string{"--amqp-url", "amqps://a/"},
			env:  map[string]string{"PGFANOUT_AMQP_CA_FILE": ca, "PGFANOUT_AMQP_CERT_FILE": cert, "PGFANOUT_AMQP_KEY_FILE": key},
			want: "amqps://a/" + tlsQuery},
		{name: "a URL's own CA file wins", args: []string{"--amqp-url", "amqps://a/?cacertfile=%2Fown.pem", "--amqp-ca-file", ca},
			want: "amqps://a/?cacertfile=%2Fown.pem"},
		{name: "plain URLs keep no TLS files", args: []string{"--amqp-url", "amqp://a/,amqps://b/", "--amqp-ca-file", ca},
			want: "amqp://a/,amqps://b/?cacertfile=" + url.QueryEscape(ca)},
		{name: "TLS files without amqps", args: []string{"--amqp-url", "amqp://a/", "--amqp-ca-file", ca}, err: "need an amqps:// --amqp-url"},
		{name: "certificate without key", args: []string{"--amqp-url", "amqps://a/", "--amqp-cert-file", cert}, err: "go together"},
		{name: "missing file", args: []string{"--amqp-url", "amqps://a/", "--amqp-ca-file", filepath.Join(dir, "nope.pem")}, err: "--amqp-ca-file: stat"},
		{name: "bad scheme", args: []string{"--amqp-url", "http://u:s3cret@a/"}, err: "--amqp-url http://u:xxxxx@a/: AMQP scheme"},
		{name: "bad port hides the password", args: []string{"--amqp-url", "amqp://u:s3cret@a:port/"}, err: "invalid port"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := parseAMQP(t, c.args, c.env)
			require.NoError(t, err)
			got, err := a.URL()
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				require.ErrorAs(t, err, &UsageError{})
				require.NotContains(t, err.Error(), "s3cret")
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestAMQPURLFlagRefusesAnEmptyList(t *testing.T) {
	_, err := parseAMQP(t, []string{"--amqp-url", " , "}, nil)
	require.ErrorContains(t, err, "no URL")
}

func TestAMQPURLOfASubcommandReplacesTheCommands(t *testing.T) {
	t.Setenv("PGFANOUT_AMQP_URL", "amqp://env/")
	var a AMQP
	root, sub := NewFlagSet("prog", &bytes.Buffer{}), NewFlagSet("prog sub", &bytes.Buffer{})
	a.Flags(root)
	a.Flags(sub)
	require.NoError(t, ff.Parse(root, nil, EnvOptions()...))
	require.Equal(t, []string{"amqp://env/"}, a.URLs)
	require.NoError(t, ff.Parse(sub, []string{"--amqp-url", "amqp://a/", "--amqp-url", "amqp://b/"}, EnvOptions()...))
	require.Equal(t, []string{"amqp://a/", "amqp://b/"}, a.URLs, "the command line wins over the environment")
	sub2 := NewFlagSet("prog sub2", &bytes.Buffer{})
	a.Flags(sub2)
	require.NoError(t, ff.Parse(sub2, nil, EnvOptions()...))
	require.Equal(t, []string{"amqp://env/"}, a.URLs, "the environment is read once per flag set")
}
