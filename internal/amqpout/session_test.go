package amqpout

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPublishConfirmsAndCountsReturns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exchange, queue := testenv.UniqueName("pgfanout_test_x"), testenv.UniqueName("pgfanout_test_q")
	testenv.CleanupAMQP(t, testenv.AMQPURL(t), []string{exchange}, []string{queue})
	var returned atomic.Int64
	s, err := Open(ctx, Config{URL: testenv.AMQPURL(t), Exchange: exchange, Name: "test",
		Returned: func(amqp.Return) { returned.Add(1) }})
	require.NoError(t, err)
	defer s.Close(time.Second)

	ch := testenv.AMQPChannel(t)
	_, err = ch.QueueDeclare(queue, false, true, false, false, nil)
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(queue, "s.routed", exchange, false, nil))

	routed, err := s.Publish(ctx, Message{RoutingKey: "s.routed", ID: "m1", Headers: amqp.Table{"h": int64(1)}, Body: []byte(`[1]`)})
	require.NoError(t, err)
	lost, err := s.Publish(ctx, Message{RoutingKey: "s.nobody", ID: "m2", Body: []byte(`[2]`)})
	require.NoError(t, err)
	for _, dc := range []*amqp.DeferredConfirmation{routed, lost} {
		ack, err := dc.WaitContext(ctx)
		require.NoError(t, err)
		require.True(t, ack, "unroutable messages are confirmed too")
	}
	// The broker sends basic.return before the ack; the callback runs on its own goroutine.
	for returned.Load() != 1 {
		require.NoError(t, ctx.Err(), "unroutable message not reported")
		time.Sleep(10 * time.Millisecond) // poll interval
	}

	msg, ok, err := ch.Get(queue, true)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "m1", msg.MessageId)
	require.Equal(t, "application/json", msg.ContentType)
	require.Equal(t, amqp.Persistent, msg.DeliveryMode)
	require.Equal(t, int64(1), msg.Headers["h"])
}

func TestSessionReportsClosedChannel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exchange := testenv.UniqueName("pgfanout_test_x")
	testenv.CleanupAMQP(t, testenv.AMQPURL(t), []string{exchange}, nil)
	s, err := Open(ctx, Config{URL: testenv.AMQPURL(t), Exchange: exchange, Name: "test"})
	require.NoError(t, err)
	defer s.Close(time.Second)
	require.NoError(t, s.Err())

	// Publishing to an exchange that no longer exists makes the broker close the channel.
	ch := testenv.AMQPChannel(t)
	require.NoError(t, ch.ExchangeDelete(exchange, false, false))
	dc, err := s.Publish(ctx, Message{RoutingKey: "a.b", ID: "m", Body: []byte(`[]`)})
	require.NoError(t, err)
	ack, err := dc.WaitContext(ctx)
	require.NoError(t, err)
	require.False(t, ack)
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("session did not report the closed channel")
	}
	var amqpErr *amqp.Error
	require.ErrorAs(t, s.Err(), &amqpErr)
	require.Equal(t, amqp.NotFound, amqpErr.Code)
}

func TestOpenRejectsExchangeOfAnotherType(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exchange := testenv.UniqueName("pgfanout_test_x")
	testenv.CleanupAMQP(t, testenv.AMQPURL(t), []string{exchange}, nil)
	ch := testenv.AMQPChannel(t)
	require.NoError(t, ch.ExchangeDeclare(exchange, amqp.ExchangeFanout, true, false, false, false, nil))
	_, err := Open(ctx, Config{URL: testenv.AMQPURL(t), Exchange: exchange, Name: "test"})
	var amqpErr *amqp.Error
	require.ErrorAs(t, err, &amqpErr)
	require.Equal(t, amqp.PreconditionFailed, amqpErr.Code)
	require.Contains(t, Hint(err), "durable topic exchange")
}

func TestHintForRefusedCredentials(t *testing.T) {
	u := strings.Replace(testenv.AMQPURL(t), "guest:guest", "guest:wrong-password", 1)
	_, err := Open(context.Background(), Config{URL: u, Exchange: "unused", Name: "test"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "wrong-password")
	require.Contains(t, Hint(err), "check the user and password")
	require.Empty(t, Hint(context.Canceled))
}
