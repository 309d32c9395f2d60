package health

import (
	"context"
	"io"
	"net/http"
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

	get := func(path string) int {
		resp, err := http.Get("http://" + s.Addr() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		_, _ = io.ReadAll(resp.Body)
		return resp.StatusCode
	}
	require.Equal(t, 200, get("/healthz"))
	require.Equal(t, 503, get("/readyz"))
	s.SetReady(true)
	require.Equal(t, 200, get("/readyz"))
	require.Equal(t, 200, get("/metrics"))
	require.NoError(t, Check(context.Background(), s.Addr()))

	cancel()
	require.NoError(t, p.Wait())
	require.Error(t, Check(context.Background(), s.Addr()))
}
