package testenv

import (
	"testing"
	"time"
)

// pollEvery is how often Eventually looks again: a polling interval, not a wait for an event.
const pollEvery = 20 * time.Millisecond

// Eventually checks cond until it returns true, every 20 ms, and fails the test with "timed
// out after <timeout> waiting for <what>" once timeout has passed without that. cond runs on
// the calling goroutine (require.Eventually runs it on one of its own), so it may use require
// and the test's connections.
//
// What a server does after a client closed, a process died or a queue was deleted happens a
// little later (a closed session's locks go when its backend exits, a dead consumer's
// messages return when the broker noticed): a test waits for that effect with Eventually,
// never with time.Sleep.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if !time.Now().Before(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(pollEvery)
	}
}
