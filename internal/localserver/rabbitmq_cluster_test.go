package localserver

import (
	"context"
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
)

func TestRabbitClusterOfThree(t *testing.T) {
	t.Parallel() // private nodes on ports of their own
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "pgfanout-rmqc-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	start := time.Now()
	c, err := StartRabbitCluster(ctx, dir, 3)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	t.Logf("3 nodes started and joined in %v", time.Since(start).Round(time.Millisecond))

	running, err := c.Running(ctx, 2)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{c.Nodes[0].Node, c.Nodes[1].Node, c.Nodes[2].Node}, running)

	conn, err := amqp.Dial(c.Nodes[1].URL())
	require.NoError(t, err)
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare("kept", true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
	require.NoError(t, err)
	require.NoError(t, ch.Confirm(false))
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", "kept", false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("hi")})
	require.NoError(t, err)
	ok, err := dc.WaitContext(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	conn.Close()

	out, err := c.Nodes[0].QueuesCtl(ctx, "quorum_status", "kept")
	require.NoError(t, err)
	t.Log(out)
	out, err = c.Nodes[0].CtlOutput(ctx, "list_queues", "name", "type", "leader", "members", "online")
	require.NoError(t, err)
	t.Log(out)

	c.Nodes[1].Kill() // the queue's leader: it was declared through node 1
	killed := time.Now()
	// While the queue elects a new leader a basic.get fails, and closes the connection.
	var body string
	require.Eventually(t, func() bool {
		conn, err := amqp.Dial(c.Nodes[2].URL())
		if err != nil {
			return false
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			return false
		}
		msg, ok, err := ch.Get("kept", true)
		body = string(msg.Body)
		return err == nil && ok
	}, 60*time.Second, 200*time.Millisecond)
	t.Logf("the queue answered %v after its leader was killed", time.Since(killed).Round(time.Millisecond))
	require.Equal(t, "hi", body)
	require.NoError(t, c.Nodes[1].Start(ctx))
	running, err = c.Running(ctx, 0)
	require.NoError(t, err)
	require.Len(t, running, 3)
}
