package e2e

import (
	"errors"
	"net/url"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

// `replicator declare`, a one-shot job (compose runs it before anything writes), fails with
// exit status 1 on refused RabbitMQ credentials, says what to check, and shows no password.
func TestDeclareRefusedCredentialsHint(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(testenv.AMQPURL(t))
	require.NoError(t, err)
	u.User = url.UserPassword("nobody", "wrong-secret")
	out, err := exec.Command(bins.replicator, "declare", "--replica-url", testenv.PGURL(t),
		"--amqp-url", u.String(), "--replica-name", testenv.UniqueName("pgf_r")).CombinedOutput()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "%v: %s", err, out)
	require.Equal(t, 1, exit.ExitCode(), string(out))
	require.Contains(t, string(out), "hint: RabbitMQ refused the credentials")
	require.NotContains(t, string(out), "wrong-secret")
}
