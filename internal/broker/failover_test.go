package broker

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestSplitURLs(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"amqp://h/", []string{"amqp://h/"}},
		{"amqp://a/,amqp://b/", []string{"amqp://a/", "amqp://b/"}},
		{" amqp://a/ , AMQPS://b:5671/?cacertfile=/x ,", []string{"amqp://a/", "AMQPS://b:5671/?cacertfile=/x"}},
		{"amqp://u:pa,ss@a/,amqp://u:pa,ss@b/", []string{"amqp://u:pa,ss@a/", "amqp://u:pa,ss@b/"}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, SplitURLs(c.in), c.in)
	}
}

// refusedURL is an AMQP URL of a loopback port nothing listens on.
func refusedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "amqp://guest:refused-secret@" + addr + "/"
}

// silentURL is an AMQP URL of a port that accepts connections and never answers, as a node
// cut off by a partition or frozen would.
func silentURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		for _, c := range held {
			_ = c.Close()
		}
	})
	return "amqp://guest:silent-secret@" + l.Addr().String() + "/"
}

func TestDialFailsOverToALiveNode(t *testing.T) {
	t.Parallel()
	live := liveness.Settings{Timeout: 15 * time.Second, KeepAlive: time.Second, Heartbeat: 5 * time.Second}
	list := strings.Join([]string{refusedURL(t), silentURL(t), testenv.AMQPURL(t), refusedURL(t)}, ",")
	// Each dial starts at a random node; enough dials start at each of them.
	for range 12 {
		start := time.Now()
		c, err := Dial(context.Background(), DialConfig{URL: list, Name: "pgfanout-test", Liveness: live})
		require.NoError(t, err)
		// A silent node costs at most failoverStagger, never the 15 s I/O timeout.
		require.Less(t, time.Since(start), live.Timeout/3)
		ch, err := c.Channel()
		require.NoError(t, err)
		require.NoError(t, ch.Close())
		c.Close(time.Second)
	}
}

func TestDialReportsEveryNodeRedacted(t *testing.T) {
	t.Parallel()
	a, b := refusedURL(t), refusedURL(t)
	_, err := Dial(context.Background(), DialConfig{URL: a + "," + b, Name: "pgfanout-test"})
	require.Error(t, err)
	msg := err.Error()
	require.NotContains(t, msg, "refused-secret")
	for _, u := range []string{a, b} {
		require.Contains(t, msg, strings.Replace(u, "refused-secret", "xxxxx", 1))
	}
	_, err = Dial(context.Background(), DialConfig{URL: " , ", Name: "pgfanout-test"})
	require.ErrorContains(t, err, "no AMQP URL")
}

func TestDialWithSeveralURLsHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, DialConfig{URL: silentURL(t) + "," + silentURL(t), Name: "pgfanout-test"})
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
}
