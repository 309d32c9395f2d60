package publish

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

// alarmFor is how long the test holds RabbitMQ's memory alarm: long past every timeout of
// the publisher (confirms, watchdog at its test setting), so that the test fails if any of
// them counts an alarm as a failure.
const alarmFor = 60 * time.Second

// TestResourceAlarmBlocksThenDelivers holds a memory alarm on a private RabbitMQ node. While
// it lasts the publisher is blocked: /readyz says so with the reason, the gauge is 1, nothing
// reconnects, and the changes wait in the log. After it, everything arrives.
func TestResourceAlarmBlocksThenDelivers(t *testing.T) {
	t.Parallel() // a private node on ports of its own
	mq := testenv.StartRabbitMQ(t)
	h := newHarnessOn(t, mq.URL())
	cfg := h.config()
	cfg.ConfirmTimeout, cfg.ProgressTimeout = 5*time.Second, 10*time.Second
	p := h.start(cfg)
	h.exec(`INSERT INTO t SELECT g, 'before' FROM generate_series(1, 100) g`)
	h.receive(100, 30*time.Second)

	mq.Ctl("set_vm_memory_high_watermark", "absolute", "1") // any use of memory is too much
	h.exec(`INSERT INTO t SELECT g, 'during' FROM generate_series(101, 600) g`)
	testenv.Eventually(t, "the publisher to be blocked", patience, func() bool { return counter(p.m.blocked) == 1 })
	start := time.Now()
	for time.Since(start) < alarmFor {
		ok, reason := p.Ready()
		require.False(t, ok, "ready while RabbitMQ blocks it")
		require.True(t, strings.Contains(reason, "resource alarm"), reason)
		require.Equal(t, 1.0, counter(p.m.blocked))
		time.Sleep(time.Second) // sampling period
	}
	require.Positive(t, h.backlog(), "the changes wait in the change log")
	require.Zero(t, counter(p.m.reconnects.WithLabelValues(targetRabbitMQ)), "an alarm is not a failure")
	require.Zero(t, counter(p.m.stalls), "nor is it a stall")

	mq.Ctl("set_vm_memory_high_watermark", "0.4")
	h.receive(600, 30*time.Second) // duplicates, if any, are checked identical
	testenv.Eventually(t, "an empty change log", patience, func() bool { return h.backlog() == 0 })
	testenv.Eventually(t, "the publisher to be unblocked", patience, func() bool { return counter(p.m.blocked) == 0 })
	ok, _ := p.Ready()
	require.True(t, ok)
}
