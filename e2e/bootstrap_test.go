package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

const bootRows = 200_000

// TestBootstrapUnderWrites copies a 200k-row table into an empty replica while 4 clients
// insert, update, delete and move primary keys; the replica must end equal to the source.
func TestBootstrapUnderWrites(t *testing.T) {
	r := newBootRig(t, bootRows)
	w := r.write(4, bootRows)
	rep := r.newReplica(bootDDL)
	r.startReplicator(rep)
	testenv.Eventually(t, "the copy", 3*time.Minute, func() bool { s, _ := copyState(t, rep); return s == "done" })
	w.finish()
	require.NoError(t, w.err)
	r.equalSoon(rep, time.Minute)
	t.Logf("%d statements written during the copy", w.count.Load())
}

// TestBootstrapSurvivesKills kills the copying replicator twice (SIGKILL) in the middle of the
// copy; the copy resumes from its last finished chunk, and the replica ends equal.
func TestBootstrapSurvivesKills(t *testing.T) {
	r := newBootRig(t, bootRows)
	w := r.write(4, bootRows)
	rep := r.newReplica(bootDDL)
	done := 0
	for kill := 0; kill < 2; kill++ {
		p := r.startReplicator(rep)
		testenv.Eventually(t, "chunks being copied", 2*time.Minute, func() bool {
			_, d := copyState(t, rep)
			return d > done+2
		})
		p.kill(t)
		_, done = copyState(t, rep)
	}
	r.startReplicator(rep)
	testenv.Eventually(t, "the copy", 3*time.Minute, func() bool { s, _ := copyState(t, rep); return s == "done" })
	w.finish()
	require.NoError(t, w.err)
	r.equalSoon(rep, time.Minute)
}
