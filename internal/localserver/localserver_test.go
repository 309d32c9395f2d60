package localserver

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
)

func TestPostgresStopStart(t *testing.T) {
	t.Parallel() // a private server on a port of its own
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "pgfanout-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	pg, err := StartPostgres(ctx, dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = pg.Kill() })

	conn, err := pgx.Connect(ctx, pg.URL("postgres"))
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
	require.NoError(t, err)
	conn.Close(ctx)

	require.NoError(t, pg.Stop(ctx))
	_, err = pgx.Connect(ctx, pg.URL("postgres"))
	require.Error(t, err, "a stopped server must refuse connections")
	require.NoError(t, pg.Start(ctx))

	conn, err = pgx.Connect(ctx, pg.URL("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var x int
	require.NoError(t, conn.QueryRow(ctx, "SELECT x FROM kept").Scan(&x))
	require.Equal(t, 42, x)
}

func TestRabbitMQStopStart(t *testing.T) {
	t.Parallel() // a private node on ports of its own
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "pgfanout-rmq-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	r, err := StartRabbitMQ(ctx, dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close(context.Background()) })

	conn, err := amqp.Dial(r.URL())
	require.NoError(t, err)
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare("kept", true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
	require.NoError(t, err)
	require.NoError(t, ch.PublishWithContext(ctx, "", "kept", false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("hi")}))
	conn.Close()

	require.NoError(t, r.Stop(ctx))
	require.NoError(t, r.Start(ctx))
	conn, err = amqp.Dial(r.URL())
	require.NoError(t, err)
	defer conn.Close()
	ch, err = conn.Channel()
	require.NoError(t, err)
	var msg amqp.Delivery
	var ok bool
	require.Eventually(t, func() bool { msg, ok, err = ch.Get("kept", true); return ok }, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, "hi", string(msg.Body))
}
