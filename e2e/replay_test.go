package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/proctest"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// depth is the number of ready messages in queue, read with a passive declare on a channel of
// its own (a failed declare closes its channel).
func depth(t *testing.T, conn *amqp.Connection, queue string) int {
	t.Helper()
	ch, err := conn.Channel()
	require.NoError(t, err)
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	require.NoError(t, err)
	return q.Messages
}

func amqpConn(t *testing.T, url string) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// deadLetters reads every dead letter without removing it: taken unacknowledged on a channel
// of its own, they go back to the queue when the channel closes.
func deadLetters(t *testing.T, conn *amqp.Connection, queue string) []amqp.Delivery {
	t.Helper()
	ch, err := conn.Channel()
	require.NoError(t, err)
	defer ch.Close()
	var out []amqp.Delivery
	for {
		d, ok, err := ch.Get(queue, false)
		require.NoError(t, err)
		if !ok {
			if len(out) > 0 {
				// Returned explicitly, in order on this channel, and the return awaited by a
				// synchronous method: a close would return them asynchronously, racing the
				// next reader of the queue.
				require.NoError(t, ch.Nack(out[len(out)-1].DeliveryTag, true, true))
				_, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
				require.NoError(t, err)
			}
			return out
		}
		out = append(out, d)
	}
}

// peekDeadLetters is deadLetters for a queue that should keep them: it waits until the ones
// it took are back (a closed channel's unacknowledged messages return asynchronously).
func peekDeadLetters(t *testing.T, conn *amqp.Connection, queue string) []amqp.Delivery {
	t.Helper()
	out := deadLetters(t, conn, queue)
	testenv.Eventually(t, "the dead letters back in "+queue, 30*time.Second, func() bool { return depth(t, conn, queue) == len(out) })
	return out
}

// replayDead runs `replicator replay-dead` to completion and returns its output.
func (e *repEnv) replayDead(t *testing.T, extra ...string) string {
	t.Helper()
	return runCmd(t, e.bin, append([]string{"replay-dead", "--amqp-url", e.amqpURL, "--replica-name", e.name,
		"--log-level", "warn"}, extra...)...)
}

// Messages a replica could not apply (a column it lacks) are dead-lettered; replayed before
// the fix they fail again and go back with the new reason, counted; once the column exists,
// replay-dead moves them back and the replica converges. --table and --limit choose what moves.
func TestReplayDeadAfterTheCauseIsFixed(t *testing.T) {
	t.Parallel()
	e := newRepEnv(t, "", "")
	sourcetest.Exec(t, e.rep, `ALTER TABLE orders DROP COLUMN note`)
	p := e.start(t, "--max-attempts", "1")
	// One message per entry, no duplicates: those of orders holding rows (inserts, updates)
	// cannot be applied, its deletes can.
	n := 0
	for round := 0; round < 5; round++ {
		e.workload(t, 15)
		entries := sourcetest.Entries(t, e.src, e.after)
		e.after = entries[len(entries)-1][len(entries[len(entries)-1])-1].Version
		for _, en := range entries {
			if en[0].Table == "orders" && (en[0].Op == change.Insert || en[0].Op == change.Update) {
				n++
			}
		}
		e.pub.Entries(t, entries)
	}
	require.Positive(t, n)
	conn := amqpConn(t, e.amqpURL)
	dead := "pgfanout." + e.name + ".dead"
	// Counted after the dead letter's confirm and the original's ack.
	testenv.Eventually(t, "orders' messages dead-lettered", time.Minute, func() bool {
		return p.deadLettered(t) == float64(n) && depth(t, conn, dead) == n
	})
	for _, d := range peekDeadLetters(t, conn, dead) {
		require.Contains(t, d.Headers["x-pgfanout-error"], `"note"`)
		require.Equal(t, "public", d.Headers[change.HeaderSchema], "only orders' messages fail")
	}

	require.Contains(t, e.replayDead(t, "--table", "public.events"), "moved 0 dead letters")
	// Those it skipped return to the dead queue as its connection closes, asynchronously.
	testenv.Eventually(t, "the skipped dead letters back", 30*time.Second, func() bool { return depth(t, conn, dead) == n })
	// Not fixed yet: the replayed message fails again and comes back with the reason.
	require.Contains(t, e.replayDead(t, "--limit", "1", "--table", "public.orders"), "moved 1 dead letters")
	testenv.Eventually(t, "the replayed message dead-lettered again", 30*time.Second, func() bool {
		return p.deadLettered(t) == float64(n+1) && depth(t, conn, dead) == n
	})
	replays := 0
	for _, d := range peekDeadLetters(t, conn, dead) {
		if d.Headers["x-pgfanout-replays"] == int32(1) {
			replays++
			require.Contains(t, d.Headers["x-pgfanout-error"], `"note"`, "the new reason")
			require.Equal(t, "", d.Headers["x-pgfanout-exchange"], "it came through the default exchange")
		}
	}
	require.Equal(t, 1, replays)

	sourcetest.Exec(t, e.rep, `ALTER TABLE orders ADD COLUMN note jsonb`)
	out := e.replayDead(t)
	require.Contains(t, out, "moved ", out)
	// A quorum queue can hide, from basic.get, messages it is still taking back from a closed
	// channel (this test's peeks): such a message stays in the dead queue, and a later run
	// moves it. Nothing is removed before its copy is confirmed, so nothing can be lost.
	testenv.Eventually(t, "the dead queue empty", time.Minute, func() bool {
		if depth(t, conn, dead) == 0 {
			return true
		}
		t.Logf("dead queue not empty after a replay (%s); replaying again", strings.TrimSpace(out))
		out = e.replayDead(t)
		return false
	})
	e.converged(t, time.Minute)
	p.terminate(t)
}

// kill -9 of replay-dead at any moment loses nothing: each dead letter is acknowledged only
// after its copy was confirmed, so it is in the dead queue, the replica's queue or both.
func TestReplayDeadKilledMidwayLosesNothing(t *testing.T) {
	t.Parallel()
	e := newRepEnv(t, "", "")
	// 20000 one-change messages, straight into the dead queue: the replica has none of them.
	sourcetest.Exec(t, e.src, `INSERT INTO orders SELECT g, 'c' || g, g, jsonb_build_object('g', g) FROM generate_series(1, 20000) g`)
	changes := sourcetest.Flatten(sourcetest.Entries(t, e.src, 0))
	require.Len(t, changes, 20000)
	deadPub := sourcetest.NewPublisher(t, e.amqpURL, e.exchange+".dead")
	queue := "pgfanout." + e.name
	var entries [][]change.Change
	for i := range changes {
		entries = append(entries, changes[i:i+1])
	}
	for i := 0; i < len(entries); i += 1000 {
		var pending []*amqp.DeferredConfirmation
		for _, en := range entries[i:min(i+1000, len(entries))] {
			_, msg := sourcetest.Message(en)
			pending = append(pending, deadPub.Raw(t, queue, msg)) // as the replicator dead-letters
		}
		for _, dc := range pending {
			ok, err := dc.WaitContext(context.Background())
			require.NoError(t, err)
			require.True(t, ok)
		}
	}
	conn := amqpConn(t, e.amqpURL)
	require.Equal(t, 20000, depth(t, conn, queue+".dead"))

	p := e.start(t)
	replay := startProc(t, exec.Command(e.bin, "replay-dead", "--amqp-url", e.amqpURL, "--replica-name", e.name))
	testenv.Eventually(t, "replay-dead to move some", time.Minute, func() bool { return depth(t, conn, queue+".dead") < 19000 })
	require.True(t, replay.Running(), "replay-dead finished before it could be killed:\n%s", replay.Output())
	replay.Kill()
	left := depth(t, conn, queue+".dead")
	require.Positive(t, left, "killed midway")
	t.Logf("killed replay-dead with %d dead letters left", left)

	out := e.replayDead(t)
	require.True(t, strings.HasPrefix(out, "moved "), out)
	e.converged(t, 2*time.Minute)
	testenv.Eventually(t, "the dead queue empty", 30*time.Second, func() bool { return depth(t, conn, queue+".dead") == 0 })
	p.terminate(t)
}

// deadLettered reads pgfanout_replicator_dead_lettered_total.
func (p *repProc) deadLettered(t *testing.T) float64 {
	t.Helper()
	v, err := proctest.Counter(p.addr(t), "pgfanout_replicator_dead_lettered_total")
	require.NoError(t, err)
	return v
}
