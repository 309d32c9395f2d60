package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pgfanout/pgfanout/internal/change"
)

// connect opens a connection with the replicator's output settings, so that row text
// compares across databases.
func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	for k, v := range change.ValueSettings() {
		cfg.RuntimeParams[k] = v
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// checksums are each tracked table's row count and the sum of its rows' 64-bit hashes: equal
// for equal multisets of rows, whatever their order (a keyless table included).
func checksums(ctx context.Context, url string) (map[string]string, error) {
	conn, err := connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	out := map[string]string{}
	for _, table := range trackedTables() {
		var sum string
		if err := conn.QueryRow(ctx, `SELECT count(*) || ' rows, hash ' || coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)
			FROM `+pgx.Identifier{"public", table}.Sanitize()+` t`).Scan(&sum); err != nil {
			return nil, fmt.Errorf("checksum %s: %w", table, err)
		}
		out[table] = sum
	}
	return out, nil
}

// differing lists the tables whose checksums differ.
func differing(want, got map[string]string) []string {
	var out []string
	for _, table := range trackedTables() {
		if want[table] != got[table] {
			out = append(out, fmt.Sprintf("%s: source %s, replica %s", table, want[table], got[table]))
		}
	}
	return out
}

// backlog is the number of changes in the source's change log.
func backlog(ctx context.Context, url string) (int64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int64
	err = conn.QueryRow(ctx, `SELECT changes FROM pgfanout.backlog`).Scan(&n)
	return n, err
}

// copiesDone reports whether every table of the replica's copy bookkeeping is copied, and
// lists those that are not.
func copiesDone(ctx context.Context, url string) (bool, string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return false, "", err
	}
	defer conn.Close(context.Background())
	var pending []string
	rows, err := conn.Query(ctx, `SELECT table_name || ' ' || state FROM pgfanout.copy_tables WHERE state <> 'done' ORDER BY 1`)
	if err != nil {
		return false, "", err
	}
	if pending, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return false, "", err
	}
	var copied int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pgfanout.copy_tables WHERE state = 'done'`).Scan(&copied); err != nil {
		return false, "", err
	}
	return len(pending) == 0 && copied == len(trackedTables()), strings.Join(pending, ", "), nil
}

// queues reads the ready messages of the named queues (passive declares: a queue that does
// not exist is an error).
func queues(amqpURL string, names ...string) (map[string]int, error) {
	conn, err := amqp.DialConfig(amqpURL, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	out := map[string]int{}
	for _, name := range names {
		ch, err := conn.Channel()
		if err != nil {
			return nil, err
		}
		q, err := ch.QueueDeclarePassive(name, true, false, false, false, nil)
		if err != nil {
			return nil, fmt.Errorf("queue %s: %w", name, err)
		}
		out[name] = q.Messages
		_ = ch.Close()
	}
	return out, nil
}

// verify runs `replicator verify` for one replica and returns its output and exit status
// (0 equal, 1 not, 2 errors).
func verify(ctx context.Context, sourceURL, replicaURL string) (string, int, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bins.replicator, "verify", "--source-url", sourceURL, "--replica-url", replicaURL,
		"--log-format", "console")
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), exit.ExitCode(), nil
	}
	if err != nil {
		return out.String(), -1, err
	}
	return out.String(), 0, nil
}
