package pgbench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/localserver"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

// A PostgreSQL 15 report.
const report = `pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 1
query mode: simple
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 5678
number of failed transactions: 3 (0.053%)
latency average = 1.409 ms
initial connection time = 6.123 ms
tps = 2838.512345 (without initial connection time)
`

func TestParse(t *testing.T) {
	r, err := Parse(report)
	require.NoError(t, err)
	require.Equal(t, Result{Transactions: 5678, Failed: 3, TPS: 2838.512345, LatencyMS: 1.409}, r)
	_, err = Parse("pgbench: error: connection to server failed\n")
	require.Error(t, err)
}

func TestSeconds(t *testing.T) {
	require.Equal(t, 1, Seconds(0))
	require.Equal(t, 1, Seconds(300*time.Millisecond))
	require.Equal(t, 2, Seconds(1500*time.Millisecond))
	require.Equal(t, 30, Seconds(30*time.Second))
}

func TestInitAndRun(t *testing.T) {
	t.Parallel()
	bin, err := Bin()
	if errors.Is(err, localserver.ErrNoPostgres) {
		t.Skip(err)
	}
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url := testenv.NewDatabase(t)
	require.NoError(t, Init(ctx, bin, url, 1))
	var pid int
	r, err := Run{Bin: bin, URL: url, Clients: 2, Duration: time.Second, Started: func(p int) { pid = p }}.Run(ctx)
	require.NoError(t, err)
	require.Positive(t, pid)
	require.Positive(t, r.Transactions)
	require.Positive(t, r.TPS)

	var history int64
	require.NoError(t, testenv.Connect(t, url).QueryRow(ctx, `SELECT count(*) FROM pgbench_history`).Scan(&history))
	require.Equal(t, r.Transactions, history, "every processed transaction inserted one history row")
}
