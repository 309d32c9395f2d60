package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

const bootRows = 200_000

// TestBootstrapUnderWrites copies a 200k-row table into an empty replica while 4 clients
// insert, update, delete and move primary keys; the replica must end equal to the source, by
// an independent checksum and by replicator verify.
func TestBootstrapUnderWrites(t *testing.T) {
	r := newBootRig(t, bootRows)
	w := r.write(4, bootRows)
	rep := r.newReplica(bootDDL)
	r.startReplicator(rep)
	testenv.Eventually(t, "the copy", 3*time.Minute, func() bool { s, _ := copyState(t, rep); return s == "done" })
	w.finish()
	require.NoError(t, w.err)
	r.equalSoon(rep, time.Minute)
	// And replicator verify, from the outside, agrees with the independent checksum.
	out, code := verifyCmd(t, "--source-url", r.srcURL, "--replica-url", rep.url, "--tables", "public.big")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "equal")
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

// TestLateTrackingReachesEveryReplica tracks a table that already has rows while two
// replicas run under writes: both get the table with all its rows, with no restart.
func TestLateTrackingReachesEveryReplica(t *testing.T) {
	r := newBootRig(t, 20_000)
	sourcetest.Exec(t, r.src, `CREATE TABLE late (id int PRIMARY KEY, v text)`,
		`INSERT INTO late SELECT g, 'before tracking' FROM generate_series(1, 5000) g`)
	w := r.write(2, 20_000)
	var reps []*replica
	for i := 0; i < 2; i++ {
		rep := r.newReplica(bootDDL, `CREATE TABLE late (id int PRIMARY KEY, v text)`)
		r.startReplicator(rep, "--copy-workers", "2")
		reps = append(reps, rep)
	}
	for _, rep := range reps {
		testenv.Eventually(t, "big copied", 2*time.Minute, func() bool { s, _ := copyState(t, rep); return s == "done" })
	}
	sourcetest.Exec(t, r.src, `SELECT pgfanout.track('late')`,
		`UPDATE late SET v = 'after tracking' WHERE id % 10 = 0`, `INSERT INTO late VALUES (6000, 'new')`)
	w.finish()
	require.NoError(t, w.err)
	for _, rep := range reps {
		r.equalSoon(rep, time.Minute)
		testenv.Eventually(t, "late copied", time.Minute, func() bool {
			return tableChecksum(t, r.src, "late") == tableChecksum(t, rep.conn, "late")
		})
	}
}

// TestQueueDeclaredAfterWritesBegan starts the replica's first replicator, and so its queue,
// after the publisher has published (and RabbitMQ dropped, no queue being bound) changes for
// a while: the copy supplies them.
func TestQueueDeclaredAfterWritesBegan(t *testing.T) {
	r := newBootRig(t, 20_000)
	w := r.write(2, 20_000)
	testenv.Eventually(t, "writes published with no queue bound", time.Minute, func() bool { return w.count.Load() > 500 })
	rep := r.newReplica(bootDDL)
	r.startReplicator(rep)
	testenv.Eventually(t, "the copy", 2*time.Minute, func() bool { s, _ := copyState(t, rep); return s == "done" })
	w.finish()
	require.NoError(t, w.err)
	r.equalSoon(rep, time.Minute)
}

// TestResyncRepairsADivergedReplica changes, deletes and adds rows behind pgfanout's back on
// the replica; `replicator resync` copies the table again, exactly, under writes.
func TestResyncRepairsADivergedReplica(t *testing.T) {
	r := newBootRig(t, 20_000)
	rep := r.newReplica(bootDDL)
	r.startReplicator(rep)
	testenv.Eventually(t, "the copy", 2*time.Minute, func() bool { s, _ := copyState(t, rep); return s == "done" })
	r.equalSoon(rep, time.Minute)
	sourcetest.Exec(t, rep.conn, `UPDATE big SET pad = 'tampered' WHERE id = 10`, `DELETE FROM big WHERE id = 20`,
		`INSERT INTO big VALUES (99999999, 0, 'stray', 0)`)
	w := r.write(2, 20_000)
	out := runCmd(t, bins.replicator, append([]string{"resync", "--tables", "public.big"}, r.args(rep)...)...)
	require.Contains(t, out, "resync: 1 tables")
	w.finish()
	require.NoError(t, w.err)
	r.equalSoon(rep, time.Minute)
}
