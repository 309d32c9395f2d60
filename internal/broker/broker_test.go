package broker

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pgfanout/pgfanout/internal/liveness"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func dial(t *testing.T, url string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, DialConfig{URL: url, Name: "pgfanout-test", Liveness: liveness.Defaults()})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close(time.Second) })
	return c
}

func TestPublishConfirmsAndCountsReturns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	top := Topology{Exchange: testenv.UniqueName("pgfanout_test_x"), Queue: testenv.UniqueName("pgfanout_test_q"), Bindings: []string{"s.routed"}}
	testenv.CleanupAMQP(t, testenv.AMQPURL(t), []string{top.Exchange, top.DeadExchange()}, []string{top.Queue, top.DeadQueue()})
	c := dial(t, testenv.AMQPURL(t))
	_, err := top.Declare(c)
	require.NoError(t, err)
	warning, err := top.Declare(c)
	require.NoError(t, err, "declaring twice is harmless")
	require.Empty(t, warning)
	ch, err := c.Channel()
	require.NoError(t, err)

	var returned atomic.Int64
	p, err := c.Publisher(func(amqp.Return) { returned.Add(1) })
	require.NoError(t, err)
	defer p.Close()
	routed, err := p.Publish(ctx, top.Exchange, "s.routed", amqp.Publishing{MessageId: "m1", Body: []byte(`[1]`)})
	require.NoError(t, err)
	lost, err := p.Publish(ctx, top.Exchange, "s.nobody", amqp.Publishing{MessageId: "m2", Body: []byte(`[2]`)})
	require.NoError(t, err)
	for _, dc := range []*amqp.DeferredConfirmation{routed, lost} {
		ok, err := dc.WaitContext(ctx)
		require.NoError(t, err)
		require.True(t, ok, "unroutable messages are still confirmed")
	}
	// Returns arrive on the connection's reader, after the confirm may have.
	testenv.Eventually(t, "the unroutable message to come back", 10*time.Second, func() bool { return returned.Load() == 1 })

	// PublishAndWait reports its own return as an error, and not to the callback.
	err = p.PublishAndWait(ctx, top.Exchange, "s.nobody", amqp.Publishing{MessageId: "m3"}, 10*time.Second)
	require.ErrorIs(t, err, ErrReturned)
	require.NoError(t, p.PublishAndWait(ctx, top.Exchange, "s.routed", amqp.Publishing{MessageId: "m4"}, 10*time.Second))
	require.Equal(t, int64(1), returned.Load())

	q, err := ch.QueueDeclarePassive(top.Queue, true, false, false, false, top.QueueArgs())
	require.NoError(t, err)
	require.Equal(t, 2, q.Messages)
}

func TestDeadLettersReachTheDeadQueue(t *testing.T) {
	t.Parallel()
	top := Topology{Exchange: testenv.UniqueName("pgfanout_test_x"), Queue: testenv.UniqueName("pgfanout_test_q"), Bindings: []string{"#"}}
	testenv.CleanupAMQP(t, testenv.AMQPURL(t), []string{top.Exchange, top.DeadExchange()}, []string{top.Queue, top.DeadQueue()})
	c := dial(t, testenv.AMQPURL(t))
	_, err := top.Declare(c)
	require.NoError(t, err)
	ch, err := c.Channel()
	require.NoError(t, err)
	p, err := c.Publisher(nil)
	require.NoError(t, err)
	defer p.Close()
	require.NoError(t, p.PublishAndWait(context.Background(), top.DeadExchange(), top.Queue, amqp.Publishing{MessageId: "d1"}, 10*time.Second))
	q, err := ch.QueueDeclarePassive(top.DeadQueue(), true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum})
	require.NoError(t, err)
	require.Equal(t, 1, q.Messages)
}

func TestChannelErrorEndsPublisher(t *testing.T) {
	t.Parallel()
	c := dial(t, testenv.AMQPURL(t))
	p, err := c.Publisher(nil)
	require.NoError(t, err)
	defer p.Close()
	_, err = p.Publish(context.Background(), testenv.UniqueName("pgfanout_test_missing"), "k", amqp.Publishing{})
	require.NoError(t, err, "the broker refuses asynchronously")
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("publisher did not report the closed channel")
	}
	var amqpErr *amqp.Error
	require.ErrorAs(t, p.Err(), &amqpErr)
	require.Equal(t, amqp.NotFound, amqpErr.Code)
}

func TestDeclareRejectsExchangeOfAnotherType(t *testing.T) {
	t.Parallel()
	exchange := testenv.UniqueName("pgfanout_test_x")
	testenv.CleanupAMQP(t, testenv.AMQPURL(t), []string{exchange}, nil)
	setup := testenv.AMQPChannel(t)
	require.NoError(t, setup.ExchangeDeclare(exchange, amqp.ExchangeFanout, true, false, false, false, nil))
	ch, err := dial(t, testenv.AMQPURL(t)).Channel()
	require.NoError(t, err)
	err = DeclareExchange(ch, exchange)
	var amqpErr *amqp.Error
	require.ErrorAs(t, err, &amqpErr)
	require.Equal(t, amqp.PreconditionFailed, amqpErr.Code)
	require.Contains(t, Hint(err), "durable topic exchange")
}

func TestHintForRefusedCredentials(t *testing.T) {
	t.Parallel()
	u := strings.Replace(testenv.AMQPURL(t), "guest:guest", "guest:wrong-password", 1)
	_, err := Dial(context.Background(), DialConfig{URL: u, Name: "test"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "wrong-password")
	require.Contains(t, Hint(err), "check the user and password")
	require.Empty(t, Hint(context.Canceled))
}

func TestDialHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Dial(ctx, DialConfig{URL: testenv.AMQPURL(t), Name: "test"})
	require.Error(t, err)
}

// The dead-letter queue's delivery limit is pgfanout's own, not the broker's default; one an
// earlier pgfanout declared without it is kept, still bound, with a warning.
func TestDeadQueueDeliveryLimit(t *testing.T) {
	t.Parallel()
	top := Topology{Exchange: testenv.UniqueName("pgfanout_test_x"), Queue: testenv.UniqueName("pgfanout_test_q"), Bindings: []string{"#"}}
	legacy := Topology{Exchange: top.Exchange, Queue: testenv.UniqueName("pgfanout_test_q"), Bindings: []string{"#"}}
	testenv.CleanupAMQP(t, testenv.AMQPURL(t), []string{top.Exchange, top.DeadExchange()},
		[]string{top.Queue, top.DeadQueue(), legacy.Queue, legacy.DeadQueue()})
	c := dial(t, testenv.AMQPURL(t))
	warning, err := top.Declare(c)
	require.NoError(t, err)
	require.Empty(t, warning)
	ch, err := c.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare(top.DeadQueue(), true, false, false, false,
		amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum, "x-delivery-limit": int64(5)})
	require.ErrorContains(t, err, "current is '1000000'", "the limit was set explicitly")

	ch, err = c.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare(legacy.DeadQueue(), true, false, false, false, amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum})
	require.NoError(t, err)
	warning, err = legacy.Declare(c)
	require.NoError(t, err)
	require.Contains(t, warning, legacy.DeadQueue())
	require.Contains(t, warning, "replay-dead")
	p, err := c.Publisher(nil)
	require.NoError(t, err)
	defer p.Close()
	require.NoError(t, p.PublishAndWait(context.Background(), legacy.DeadExchange(), legacy.Queue, amqp.Publishing{MessageId: "d1"}, 10*time.Second),
		"the kept dead queue is bound")
	q, err := ch.QueueDeclarePassive(legacy.DeadQueue(), true, false, false, false, nil)
	require.NoError(t, err)
	require.Equal(t, 1, q.Messages)
}
