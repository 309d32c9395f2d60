package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/apply"
	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestReplicatesAndAcknowledges(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	var entries [][]change.Change
	for i := 0; i < 40; i++ {
		entries = append(entries, r.rows("k", 25, "v"))
	}
	r.pub.Entries(t, entries)
	run := r.start(t, apply.New(r.db))
	testenv.Eventually(t, "1000 rows on the replica", 30*time.Second, func() bool { return r.count(t, "true") == 1000 })
	require.True(t, run.isReady())
	run.stop(t)
	r.settled(t)
	require.Equal(t, 0, r.queued(t, r.cfg.Queue()), "everything acknowledged")
	require.Equal(t, 1000.0, run.metricsApplied(t))
}

func (run *running) metricsApplied(t *testing.T) float64 {
	mfs, err := run.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "pgfanout_replicator_applied_changes_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

func TestPoisonMessagesAreDeadLettered(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.cfg.MaxAttempts = 2
	good1 := r.rows("k", 10, "good")
	checkViolation := r.rows("k", 1, "bad")
	unknownTable := r.rows("missing", 3, "x")
	unknownColumn := r.rows("k", 1, "x")
	unknownColumn[0].Row = json.RawMessage(`{"id":999999,"nope":1}`)
	good2 := r.rows("k", 10, "good")
	r.pub.Entries(t, [][]change.Change{good1, checkViolation, unknownTable, unknownColumn, good2})
	r.pub.Raw(t, "public.k", amqp.Publishing{MessageId: "garbage", Body: []byte("not json")})
	run := r.start(t, apply.New(r.db))

	testenv.Eventually(t, "4 dead letters", 30*time.Second, func() bool { return r.queued(t, r.cfg.DeadQueue()) == 4 })
	// Nothing orders the good messages' commits before the bad ones' dead letters.
	testenv.Eventually(t, "the 20 good rows, applied around the bad ones", 30*time.Second,
		func() bool { return r.count(t, "v = 'good'") == 20 })
	run.stop(t)
	r.settled(t)
	require.Equal(t, 0, r.queued(t, r.cfg.Queue()), "every message acknowledged, applied or dead-lettered")

	reasons := map[string]string{}
	for _, d := range r.drain(t, r.cfg.DeadQueue()) {
		reason, _ := d.Headers[HeaderError].(string)
		require.NotEmpty(t, reason)
		require.Equal(t, r.cfg.ReplicaName, d.Headers[HeaderReplica])
		reasons[d.MessageId] = reason
	}
	require.Contains(t, reasons["garbage"], "not a pgfanout message")
	for id, reason := range reasons {
		if id != "garbage" {
			require.Regexp(t, `violates check constraint|does not exist on the replica|column "nope" does not exist`, reason)
		}
	}
}

// flaky fails transiently the first n calls, then delegates.
type flaky struct {
	Applier
	n     atomic.Int32
	calls atomic.Int32
}

func (f *flaky) Apply(ctx context.Context, changes []change.Change) error {
	f.calls.Add(1)
	if f.n.Add(-1) >= 0 {
		return errors.New("dial tcp: connection refused")
	}
	return f.Applier.Apply(ctx, changes)
}

func TestTransientFailuresKeepMessages(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.pub.Entries(t, [][]change.Change{r.rows("k", 5, "v"), r.rows("k", 5, "v")})
	f := &flaky{Applier: apply.New(r.db)}
	f.n.Store(6)
	run := r.start(t, f)
	testenv.Eventually(t, "10 rows on the replica", 30*time.Second, func() bool { return r.count(t, "true") == 10 })
	require.GreaterOrEqual(t, f.calls.Load(), int32(7))
	run.stop(t)
	r.settled(t)
	require.Equal(t, 0, r.queued(t, r.cfg.DeadQueue()), "a replica outage never dead-letters")
	require.Equal(t, 0, r.queued(t, r.cfg.Queue()), "everything acknowledged")
}

// stuck never finishes a batch until its context ends.
type stuck struct{ started chan struct{} }

func (s *stuck) Ping(context.Context) error { return nil }

func (s *stuck) Apply(ctx context.Context, _ []change.Change) error {
	select {
	case s.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestShutdownReturnsUnackedMessages(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.cfg.ShutdownGrace = 300 * time.Millisecond
	r.pub.Entries(t, [][]change.Change{r.rows("k", 5, "v"), r.rows("k", 5, "v"), r.rows("k", 5, "v")})
	s := &stuck{started: make(chan struct{}, 1)}
	run := r.start(t, s)
	<-s.started
	begin := time.Now()
	run.stop(t)
	require.Less(t, time.Since(begin), 3*time.Second)
	r.settled(t)
	require.Equal(t, 3, r.queued(t, r.cfg.Queue()), "the unacknowledged messages are back in the queue")
}

func TestTablesFilterSkipsOtherTables(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	var err error
	r.cfg.Tables, err = ParsePatterns("public.k")
	require.NoError(t, err)
	// A message for another table that reached the queue anyway (an old binding).
	_, msg := sourcetest.Message(r.rows("other", 2, "x"))
	_, err = r.ch.QueueDeclarePassive(r.cfg.Queue(), true, false, false, false, nil)
	require.NoError(t, err)
	require.NoError(t, r.ch.PublishWithContext(context.Background(), "", r.cfg.Queue(), false, false, msg))
	r.pub.Entries(t, [][]change.Change{r.rows("k", 3, "v")})
	run := r.start(t, apply.New(r.db))
	testenv.Eventually(t, "3 rows on the replica", 30*time.Second, func() bool { return r.count(t, "true") == 3 })
	run.stop(t)
	r.settled(t)
	// Skipped means acknowledged: the other table's message is neither applied, nor
	// dead-lettered, nor left in the queue.
	require.Equal(t, 0, r.queued(t, r.cfg.Queue()), "the skipped message was acknowledged")
	require.Equal(t, 0, r.queued(t, r.cfg.DeadQueue()))
}
