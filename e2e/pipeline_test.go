package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/testenv"
)

// tableDigest is a table's rows as sorted text, so equal tables give equal strings and
// keyless tables compare as multisets.
func tableDigest(t *testing.T, conn *pgx.Conn, table string) string {
	t.Helper()
	var s string
	q := "SELECT coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '') FROM " + table + " x"
	require.NoError(t, conn.QueryRow(context.Background(), q).Scan(&s))
	return s
}

// TestPipelineRowArrives drives the whole path from the outside: migrate → track →
// trigger → publisher → RabbitMQ → replicator → replica, then a clean SIGTERM of both.
func TestPipelineRowArrives(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	publisher, replicator := bins.publisher, bins.replicator
	srcURL, repURL := testenv.NewDatabase(t), testenv.NewDatabase(t)
	amqpURL := testenv.AMQPURL(t)
	exchange, replica := testenv.UniqueName("pgf_x"), testenv.UniqueName("pgf_r")
	testenv.CleanupAMQP(t, amqpURL, []string{exchange, exchange + ".dead"}, []string{"pgfanout." + replica, "pgfanout." + replica + ".dead"})

	ddl := `CREATE SCHEMA "Sales Dept"; CREATE TABLE "Sales Dept"."Order.Items" (id int PRIMARY KEY, name text, doc json, price numeric);
	        CREATE TABLE public.log (msg text)`
	src, rep := testenv.Connect(t, srcURL), testenv.Connect(t, repURL)
	for _, c := range []*pgx.Conn{src, rep} {
		_, err := c.Exec(ctx, ddl)
		require.NoError(t, err)
	}
	runCmd(t, publisher, "migrate", "--source-url", srcURL)
	runCmd(t, publisher, "migrate", "--source-url", srcURL) // idempotent
	_, err := src.Exec(ctx, `SELECT pgfanout.track('"Sales Dept"."Order.Items"'), pgfanout.track('public.log')`)
	require.NoError(t, err)
	// The publisher runs as a role holding exactly the grants README documents, and the
	// application writes as a role that owns nothing of pgfanout.
	pubRole, pubURL := testenv.NewRole(t, srcURL, "")
	appRole, appURL := testenv.NewRole(t, srcURL, "")
	_, err = src.Exec(ctx, testenv.PublisherGrants(t, pubRole))
	require.NoError(t, err)
	_, err = src.Exec(ctx, fmt.Sprintf(`GRANT USAGE ON SCHEMA "Sales Dept" TO %[1]s;
		GRANT SELECT, INSERT, UPDATE, DELETE ON "Sales Dept"."Order.Items", public.log TO %[1]s`, pgx.Identifier{appRole}.Sanitize()))
	require.NoError(t, err)
	app := testenv.Connect(t, appURL)
	common := []string{"--amqp-url", amqpURL, "--exchange", exchange}
	repArgs := append([]string{"--replica-url", repURL, "--replica-name", replica, "--http-addr", "127.0.0.1:0"}, common...)
	runCmd(t, replicator, append([]string{"declare"}, repArgs...)...)

	pub := startProc(t, exec.Command(publisher, append([]string{"--source-url", pubURL, "--http-addr", "127.0.0.1:0"}, common...)...))
	rpl := startProc(t, exec.Command(replicator, repArgs...))

	_, err = app.Exec(ctx, `INSERT INTO "Sales Dept"."Order.Items" VALUES (1, 'O''Brien; DROP TABLE x', '{"a" : 1, "a": 2}', 12345678901234567890.123456789),
		(2, 'two', null, 'NaN'), (3, 'three', '[]', 0)`)
	require.NoError(t, err)
	_, err = app.Exec(ctx, `UPDATE "Sales Dept"."Order.Items" SET id = 30 WHERE id = 3; DELETE FROM "Sales Dept"."Order.Items" WHERE id = 2;
		INSERT INTO public.log VALUES ('dup'), ('dup'), ('single'); DELETE FROM public.log WHERE msg = 'single'`)
	require.NoError(t, err)

	for _, table := range []string{`"Sales Dept"."Order.Items"`, "public.log"} {
		want := tableDigest(t, src, table)
		testenv.Eventually(t, table+" to match the source", 30*time.Second, func() bool { return tableDigest(t, rep, table) == want })
	}
	// Confirmed changes leave the change log.
	testenv.Eventually(t, "the change log to drain", 30*time.Second, func() bool {
		var n int64
		require.NoError(t, src.QueryRow(ctx, "SELECT changes FROM pgfanout.backlog").Scan(&n))
		return n == 0
	})
	stopProc(t, pub)
	stopProc(t, rpl)
}
