package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultReplicaName(t *testing.T) {
	cases := map[string]string{
		"postgres://u:secret@db.example.com:6543/app":           "db.example.com_6543_app",
		"postgres://u@10.0.0.7/app?sslmode=disable":             "10.0.0.7_5432_app",
		"host=replica port=5433 dbname=sales user=x password=y": "replica_5433_sales",
	}
	for url, want := range cases {
		got, err := defaultReplicaName(url)
		require.NoError(t, err, url)
		require.Equal(t, want, got, url)
	}
	// Lossy names get a hash of the exact host, port and database, so they stay apart.
	a, err := defaultReplicaName("host=/var/run/postgresql dbname=my.db")
	require.NoError(t, err)
	require.Regexp(t, `^_var_run_postgresql_5432_my\.db_[0-9a-f]{8}$`, a)
	b, err := defaultReplicaName("postgres://u@h:5432/sales%20eu")
	require.NoError(t, err)
	c, err := defaultReplicaName("postgres://u@h:5432/sales_eu")
	require.NoError(t, err)
	require.Regexp(t, `^h_5432_sales_eu_[0-9a-f]{8}$`, b)
	require.NotEqual(t, b, c)
	again, _ := defaultReplicaName("postgres://other-user:pw@h:5432/sales%20eu")
	require.Equal(t, b, again, "stable, whoever connects")
}

func TestBadFlagsExitWithUsage(t *testing.T) {
	cases := [][]string{
		{"--amqp-url", "amqp://x"},
		{"--replica-url", "postgres://x/y"},
		{"--replica-url", "postgres://x/y", "--amqp-url", "amqp://x", "--tables", "no_dot"},
		{"--replica-url", "postgres://x/y", "--amqp-url", "amqp://x", "--workers", "0"},
		{"--replica-url", "postgres://x/y", "--amqp-url", "amqp://x", "--log-level", "loud"},
		{"--no-such-flag"},
	}
	for _, args := range cases {
		var stderr bytes.Buffer
		require.Equal(t, 2, run(context.Background(), args, &bytes.Buffer{}, &stderr), "%v: %s", args, stderr.String())
	}
}
