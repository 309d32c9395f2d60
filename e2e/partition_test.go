package e2e

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

// Partition windows: long enough for every liveness mechanism to notice (heartbeats,
// deadlines, keepalives: about 25 s at the defaults), as the issue that asked for this test
// specified.
const (
	partitionFor   = 45 * time.Second
	detectWithin   = 30 * time.Second
	convergeWithin = 30 * time.Second
)

// TestPartitionHeals black-holes each network path of the pipeline in turn, under writes: no
// FIN, no RST, packets just vanish, and the connections that lived through it stay dead after
// the heal. The side that lost its peer must say so on /readyz (503) within detectWithin,
// stay unready while the partition lasts, and after the heal the replica must converge
// within convergeWithin, with no restart.
func TestPartitionHeals(t *testing.T) {
	t.Parallel() // else the four paths are a block no other test runs beside
	for _, path := range []string{pathPubSource, pathPubBroker, pathRepBroker, pathRepDB} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			r := newFaultRig(t)
			pub := startPublisher(t, r.pubEnv)
			rpl := r.startReplicator()
			affected := pub.addr()
			if path == pathRepBroker || path == pathRepDB {
				affected = rpl.addr(t)
			}
			testenv.Eventually(t, "both ready", 30*time.Second, func() bool {
				return readyz(pub.addr()) == http.StatusOK && readyz(rpl.addr(t)) == http.StatusOK
			})
			w := r.write()
			testenv.Eventually(t, "writes flowing", 30*time.Second, func() bool { return w.n.Load() > 100 })
			r.converged(convergeWithin)

			r.paths[path].Blackhole()
			cut := time.Now()
			testenv.Eventually(t, path+": /readyz 503", detectWithin, func() bool { return readyz(affected) == http.StatusServiceUnavailable })
			detected := time.Since(cut)
			for time.Since(cut) < partitionFor {
				require.Equal(t, http.StatusServiceUnavailable, readyz(affected), "ready again during the partition")
				time.Sleep(time.Second) // sampling period of the readiness check
			}
			r.paths[path].Heal()
			healed := time.Now()
			w.finish() // the writes of the partition are what must arrive now
			require.NoError(t, w.err)
			r.converged(convergeWithin)
			equal := time.Since(healed)
			testenv.Eventually(t, "ready after the heal", 30*time.Second, func() bool { return readyz(affected) == http.StatusOK })
			t.Logf("%s: unready %s after the cut; replica equal %s after the heal (%d statements written)",
				path, detected.Round(time.Millisecond), equal.Round(time.Millisecond), w.n.Load())
		})
	}
}

// TestStandbyTakesOverFromPartitionedLeader cuts the leading publisher off the source: its
// idle backends live on at the server (a partition sends no FIN), so only the lease's expiry
// can hand leadership over. A standby must publish within takeoverWithin, the changes written
// meanwhile must reach the replica while the old leader is still cut off, and the two must
// never lead at once.
func TestStandbyTakesOverFromPartitionedLeader(t *testing.T) {
	const takeoverWithin = 60 * time.Second
	t.Parallel()
	r := newFaultRig(t)
	a := startPublisher(t, r.pubEnv)
	testenv.Eventually(t, "a leader", 30*time.Second, a.isLeader)
	direct := r.pubEnv
	direct.source, direct.amqpURL = r.srcURL, testenv.AMQPURL(t)
	b := startPublisher(t, direct)
	testenv.Eventually(t, "b standing by", 30*time.Second, func() bool { return readyz(b.addr()) == http.StatusOK })
	rpl := r.startReplicator()
	testenv.Eventually(t, "replicator ready", 30*time.Second, func() bool { return readyz(rpl.addr(t)) == http.StatusOK })
	w := r.write()
	r.converged(convergeWithin)

	both := watchLeaders(t, a, b)
	r.paths[pathPubSource].Blackhole()
	cut := time.Now()
	testenv.Eventually(t, "the standby to lead", takeoverWithin, b.isLeader)
	took := time.Since(cut)
	w.finish()
	require.NoError(t, w.err)
	r.converged(convergeWithin) // published by b while a is still cut off
	require.False(t, both(), "two publishers led at once")
	r.paths[pathPubSource].Heal()
	t.Logf("standby led %s after the cut", took.Round(time.Millisecond))
}

// watchLeaders samples both publishers' is_leader every 50 ms until the test ends; the
// returned function reports whether both were ever leader in one sample.
func watchLeaders(t *testing.T, a, b *pubProc) func() bool {
	var both atomic.Bool
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond) // sampling period
		defer tick.Stop()
		for {
			if a.isLeader() && b.isLeader() {
				both.Store(true)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return both.Load
}
