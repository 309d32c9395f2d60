package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// TestBookkeepingIsPrunedAndOldMessagesRefused runs two replicas with a short bookkeeping
// horizon, one copying from the source (--source-url) and one without. Their tombstones are
// pruned once the source's low-water mark has passed them for the horizon; then an old message
// (an insert of a row deleted since) is published again, as a replayed dead letter would be.
// Neither replica brings the row back: the first copies the table again, the second
// dead-letters the message with the reason.
func TestBookkeepingIsPrunedAndOldMessagesRefused(t *testing.T) {
	r := newBootRig(t, 0)
	record, recorded := pubQueue(t, testenv.AMQPURL(t), r.exchange, "public.big", nil)
	withSource, without := r.newReplica(bootDDL), r.newReplica(bootDDL)
	horizon := []string{"--bookkeeping-horizon", "2s"}
	r.startReplicator(withSource, horizon...)
	args := []string{"--replica-url", without.url, "--amqp-url", testenv.AMQPURL(t), "--exchange", r.exchange,
		"--replica-name", without.name, "--http-addr", "127.0.0.1:0"}
	startProc(t, exec.Command(bins.replicator, append(args, horizon...)...))
	testenv.Eventually(t, "both queues declared", time.Minute, func() bool {
		return queueExists(t, "pgfanout."+withSource.name) && queueExists(t, "pgfanout."+without.name)
	})

	sourcetest.Exec(t, r.src,
		`INSERT INTO big SELECT g, g % 10, 'first', g FROM generate_series(1, 2000) g`,
		`UPDATE big SET pad = 'second'`,
		`DELETE FROM big WHERE id <= 1000`)
	for _, rep := range []*replica{withSource, without} {
		r.equalSoon(rep, time.Minute)
	}
	// The mark advances with traffic: a trickle of new rows carries it past the writes above.
	stop := trickle(t, r, 1_000_000)
	for _, rep := range []*replica{withSource, without} {
		testenv.Eventually(t, "the entries of rows 1..2000 pruned", time.Minute, func() bool {
			var left int
			require.NoError(t, rep.conn.QueryRow(context.Background(), `SELECT count(*) FROM pgfanout.row_versions
				WHERE (key->>0)::bigint <= 2000`).Scan(&left))
			return left == 0
		})
	}
	stop()

	plan := func() (n int) {
		require.NoError(t, withSource.conn.QueryRow(context.Background(),
			`SELECT coalesce(max(plan), 0) FROM pgfanout.copy_tables WHERE table_name = 'big' AND state = 'done'`).Scan(&n))
		return n
	}
	planned := plan()
	old := firstInsertOf(t, record, recorded, 5)
	ch := testenv.AMQPChannel(t)
	require.NoError(t, ch.PublishWithContext(context.Background(), r.exchange, old.RoutingKey, true, false, amqp.Publishing{
		ContentType: old.ContentType, DeliveryMode: amqp.Persistent, MessageId: old.MessageId, Headers: old.Headers, Body: old.Body}))

	dead := "pgfanout." + without.name + ".dead"
	d := getOne(t, ch, dead, time.Minute)
	require.Contains(t, d.Headers["x-pgfanout-error"], "bookkeeping horizon", "the dead letter says why")
	testenv.Eventually(t, "the table copied again into the replica with a source", time.Minute, func() bool {
		return plan() > planned
	})
	for _, rep := range []*replica{withSource, without} {
		var back bool
		require.NoError(t, rep.conn.QueryRow(context.Background(), `SELECT EXISTS (SELECT FROM big WHERE id = 5)`).Scan(&back))
		require.False(t, back, "a deleted row came back from an old message")
		r.equalSoon(rep, time.Minute)
	}
}

// trickle inserts a row every 50 ms, from id first on, until the returned stop is called.
func trickle(t *testing.T, r *bootRig, first int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	conn := sourcetest.Connect(t, r.srcURL)
	go func() {
		defer close(done)
		for id := first; ctx.Err() == nil; id++ {
			_, _ = conn.Exec(ctx, `INSERT INTO big VALUES ($1, 0, 'tick', 0)`, id)
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond): // the trickle's pace, not a wait
			}
		}
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// firstInsertOf reads the recording queue until it finds the message inserting row id.
func firstInsertOf(t *testing.T, ch *amqp.Channel, queue string, id int64) amqp.Delivery {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		d, ok, err := ch.Get(queue, true)
		require.NoError(t, err)
		if !ok {
			time.Sleep(50 * time.Millisecond) // polling the queue
			continue
		}
		changes, err := change.DecodeDelivery(d)
		require.NoError(t, err)
		for _, c := range changes {
			var key struct{ ID int64 }
			if c.Op == change.Insert && json.Unmarshal(c.Key, &key) == nil && key.ID == id {
				return d
			}
		}
	}
	t.Fatalf("no message inserting id %d", id)
	return amqp.Delivery{}
}

// getOne waits for a message on queue.
func getOne(t *testing.T, ch *amqp.Channel, queue string, timeout time.Duration) amqp.Delivery {
	t.Helper()
	var d amqp.Delivery
	testenv.Eventually(t, "a message on "+queue, timeout, func() bool {
		var ok bool
		var err error
		d, ok, err = ch.Get(queue, true)
		require.NoError(t, err)
		return ok
	})
	return d
}

func queueExists(t *testing.T, queue string) bool {
	ch := testenv.AMQPChannel(t)
	_, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	return err == nil || !strings.Contains(err.Error(), "NOT_FOUND")
}
