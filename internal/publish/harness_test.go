package publish

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/migrate"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness is a source database with a tracked table public.t(id int primary key, v text),
// an exchange and a queue bound to public.t.
type harness struct {
	t        *testing.T
	url      string
	amqpURL  string
	conn     *pgx.Conn
	exchange string
	queue    string
	ch       *amqp.Channel
	reg      *prometheus.Registry
	got      map[int64]change.Change
	msgs     <-chan amqp.Delivery
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessOn(t, testenv.AMQPURL(t))
}

// newHarnessOn is newHarness with the broker at amqpURL (a private node).
func newHarnessOn(t *testing.T, amqpURL string) *harness {
	t.Helper()
	h := &harness{t: t, url: testenv.NewDatabase(t), amqpURL: amqpURL, got: map[int64]change.Change{}, reg: prometheus.NewRegistry()}
	require.NoError(t, migrate.Up(context.Background(), h.url, zerolog.Nop()))
	h.conn = testenv.Connect(t, h.url)
	h.exec(`CREATE TABLE t (id int PRIMARY KEY, v text)`, `SELECT pgfanout.track('t')`)
	h.exchange, h.queue = testenv.UniqueName("pgfanout_test_x"), testenv.UniqueName("pgfanout_test_q")
	testenv.CleanupAMQP(t, amqpURL, []string{h.exchange}, []string{h.queue})
	conn, err := amqp.Dial(amqpURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	h.ch, err = conn.Channel()
	require.NoError(t, err)
	require.NoError(t, h.ch.ExchangeDeclare(h.exchange, amqp.ExchangeTopic, true, false, false, false, nil))
	_, err = h.ch.QueueDeclare(h.queue, false, false, false, false, nil)
	require.NoError(t, err)
	require.NoError(t, h.ch.QueueBind(h.queue, "public.t", h.exchange, false, nil))
	h.msgs, err = h.ch.Consume(h.queue, "", true, false, false, false, nil)
	require.NoError(t, err)
	return h
}

func (h *harness) exec(stmts ...string) {
	h.t.Helper()
	for _, s := range stmts {
		_, err := h.conn.Exec(context.Background(), s)
		require.NoError(h.t, err, s)
	}
}

func (h *harness) config() Config {
	return Config{
		SourceURL: h.url, AMQPURL: h.amqpURL, Exchange: h.exchange,
		PollInterval: 200 * time.Millisecond, StandbyPoll: 100 * time.Millisecond,
		StatsInterval: 100 * time.Millisecond,
	}
}

// start runs a publisher until the test ends; it must then stop cleanly.
func (h *harness) start(cfg Config) *Publisher {
	h.t.Helper()
	p, err := New(cfg, testLogger(h.t), h.reg)
	require.NoError(h.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(h.t, err)
		case <-time.After(10 * time.Second):
			h.t.Error("publisher did not stop within 10 s")
		}
	})
	return p
}

// receive consumes until n distinct versions (n changes) arrived, checking that duplicates
// are identical, and fails after timeout. Versions are sparse (blocks per statement), so
// only their number is known.
func (h *harness) receive(n int64, timeout time.Duration) {
	h.t.Helper()
	deadline := time.After(timeout)
	for int64(len(h.got)) < n {
		select {
		case d := <-h.msgs:
			require.Equal(h.t, change.ContentType, d.ContentType)
			require.Equal(h.t, amqp.Persistent, d.DeliveryMode)
			// The replicator's own decoder: the real publisher's messages must meet the contract.
			changes, err := change.DecodeDelivery(d)
			require.NoError(h.t, err)
			for _, c := range changes {
				if prev, dup := h.got[c.Version]; dup {
					require.Equal(h.t, string(change.AppendChange(nil, &prev)), string(change.AppendChange(nil, &c)))
				}
				require.Positive(h.t, c.Version)
				h.got[c.Version] = c
			}
		case <-deadline:
			h.t.Fatalf("received %d of %d changes within %s", len(h.got), n, timeout)
		}
	}
}

// inVersionOrder lists the received changes by version.
func (h *harness) inVersionOrder() []change.Change {
	out := make([]change.Change, 0, len(h.got))
	for _, c := range h.got {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// patience bounds every wait for the publisher or a server to do something.
const patience = 10 * time.Second

func (h *harness) idle() bool { return sourcetest.PublisherIdle(h.t, h.conn) }

func (h *harness) backlog() int64 {
	var n int64
	require.NoError(h.t, h.conn.QueryRow(context.Background(), `SELECT changes FROM pgfanout.backlog`).Scan(&n))
	return n
}

// counter reads a counter or gauge (prometheus' testutil would add a module to go.sum).
func counter(m prometheus.Metric) float64 {
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		panic(err)
	}
	if out.Counter != nil {
		return out.Counter.GetValue()
	}
	return out.Gauge.GetValue()
}

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}
