package health

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
	"github.com/sourcegraph/conc/pool"
	"github.com/stretchr/testify/require"
)

func TestServer(t *testing.T) {
	s := NewServer("127.0.0.1:0", zerolog.Nop())
	require.NoError(t, s.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	p := pool.New().WithErrors().WithContext(ctx)
	p.Go(s.Run)

	var body string
	get := func(path string) int {
		resp, err := http.Get("http://" + s.Addr() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode
	}
	require.Equal(t, 200, get("/healthz"))
	require.Equal(t, 503, get("/readyz"))
	require.Contains(t, body, "starting")
	var up atomic.Bool      // read by the server's goroutines
	var refused atomic.Bool // the source refuses the login
	s.SetReadiness(func() (bool, string) {
		switch {
		case up.Load():
			return true, "leading"
		case refused.Load():
			return false, `source: failed SASL auth (FATAL: password authentication failed for user "p" (SQLSTATE 28P01))`
		}
		return false, "RabbitMQ: connection refused"
	})
	require.Equal(t, 503, get("/readyz"))
	require.Contains(t, body, "RabbitMQ: connection refused", "the reason is shown")
	require.Equal(t, 200, get("/healthz"), "an unreachable server may come back: healthy")
	require.NoError(t, Check(context.Background(), s.Addr()))
	refused.Store(true)
	require.Equal(t, 503, get("/healthz"), "a refused login is shown to the container's healthcheck")
	require.Contains(t, body, "28P01")
	require.Error(t, Check(context.Background(), s.Addr()))
	refused.Store(false)
	require.Equal(t, 200, get("/healthz"))
	up.Store(true)
	require.Equal(t, 200, get("/readyz"))
	require.Contains(t, body, "leading")
	require.Equal(t, 200, get("/metrics"))
	require.NoError(t, Check(context.Background(), s.Addr()))

	cancel()
	require.NoError(t, p.Wait())
	require.Error(t, Check(context.Background(), s.Addr()))
}
