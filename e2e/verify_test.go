package e2e

import (
	"bytes"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// verifyCmd runs `replicator verify` to completion and returns its stdout and exit status
// (stderr, its progress and logs, goes into the failure message).
func verifyCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bins.replicator, append([]string{"verify"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return stdout.String() + stderr.String(), exit.ExitCode()
	}
	require.NoError(t, err)
	return stdout.String() + stderr.String(), 0
}

// TestVerifyFindsAndRepairsATamperedReplicaUnderWrites bootstraps a replica while 2 clients
// write, changes, deletes and adds a row behind pgfanout's back on the replica, and runs
// `replicator verify` as the writes go on (so rows are in flight at every comparison): it
// names exactly the three keys and exits 1; --repair copies their ranges again; a last
// verify exits 0.
func TestVerifyFindsAndRepairsATamperedReplicaUnderWrites(t *testing.T) {
	r := newBootRig(t, 20_000)
	// Keys no writer touches: writers pick ids below the next id to insert, and move keys to
	// 10,000,000 and up.
	sourcetest.Exec(t, r.src, `INSERT INTO big VALUES (50000001, 1, 'kept', 1), (50000002, 2, 'kept', 2)`)
	w := r.write(2, 20_000)
	rep := r.newReplica(bootDDL)
	r.startReplicator(rep)
	testenv.Eventually(t, "the copy", 2*time.Minute, func() bool { s, _ := copyState(t, rep); return s == "done" })
	sourcetest.Exec(t, rep.conn, `UPDATE big SET pad = 'tampered' WHERE id = 50000001`, `DELETE FROM big WHERE id = 50000002`,
		`INSERT INTO big VALUES (99999999, 0, 'stray', 0)`)
	args := []string{"--source-url", r.srcURL, "--replica-url", rep.url, "--tables", "public.big", "--chunk-rows", "3000", "--recheck", "15s", "--log-format", "console"}

	out, code := verifyCmd(t, args...)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "public.big: ")
	// Exactly these three keys: the rows in flight at each comparison are not differences.
	require.Regexp(t, ` chunks: 3 rows differ \(changed 50000001, missing 50000002, extra 99999999\)(; \d+ more (was|were) in flight)?\n`, out)
	require.Contains(t, out, "verify: 1 table, ")

	out, code = verifyCmd(t, append(args, "--repair")...)
	require.Equal(t, 0, code, out)
	// One range holds the three keys, or two when a chunk bound falls on 50000002.
	require.Regexp(t, ` chunks: 3 rows differ \(changed 50000001, missing 50000002, extra 99999999\)(; \d+ more (was|were) in flight)?; `+
		`repaired [12] chunks? \(\d+ rows copied again\): equal`, out)
	require.Contains(t, out, "1 repaired;")

	out, code = verifyCmd(t, args...)
	require.Equal(t, 0, code, out)
	require.Regexp(t, `public\.big: \d+ rows in \d+ chunks: equal`, out)
	require.Greater(t, w.count.Load(), int64(1000), "the writers wrote all along")

	w.finish()
	require.NoError(t, w.err)
	r.equalSoon(rep, time.Minute)
}
