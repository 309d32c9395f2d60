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
	var up atomic.Bool // read by the server's goroutines
	s.SetReadiness(func() (bool, string) {
		if up.Load() {
			return true, "leading"
		}
		return false, "RabbitMQ: connection refused"
	})
	require.Equal(t, 503, get("/readyz"))
	require.Contains(t, body, "RabbitMQ: connection refused", "the reason is shown")
	up.Store(true)
	require.Equal(t, 200, get("/readyz"))
	require.Contains(t, body, "leading")
	require.Equal(t, 200, get("/metrics"))
	require.NoError(t, Check(context.Background(), s.Addr()))

	cancel()
	require.NoError(t, p.Wait())
	require.Error(t, Check(context.Background(), s.Addr()))
}
