package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
)

// monitor reads the change-log backlog and the replicas' queue depths over connections it
// opens once, for the progress line and the final wait.
type monitor struct {
	source *pgx.Conn
	broker *amqp.Connection
}

func newMonitor(ctx context.Context, e *env) (*monitor, error) {
	source, err := pgx.Connect(ctx, e.source.URL("demo"))
	if err != nil {
		return nil, fmt.Errorf("monitor: connect to the source: %w", err)
	}
	broker, err := amqp.Dial(e.broker.URL())
	if err != nil {
		_ = source.Close(ctx)
		return nil, fmt.Errorf("monitor: connect to RabbitMQ: %w", err)
	}
	return &monitor{source: source, broker: broker}, nil
}

func (m *monitor) close() {
	_ = m.source.Close(context.Background())
	_ = m.broker.Close()
}

// backlog is the change log's depth, -1 when it cannot be read.
func (m *monitor) backlog(ctx context.Context) int64 {
	var n int64
	if err := m.source.QueryRow(ctx, "SELECT changes FROM pgfanout.backlog").Scan(&n); err != nil {
		return -1
	}
	return n
}

// depths are the replicas' queue depths, -1 for a queue that cannot be read. Each check
// gets its own channel: a failed passive declare closes the channel it ran on.
func (m *monitor) depths() [2]int {
	depths := [2]int{-1, -1}
	for i := range depths {
		ch, err := m.broker.Channel()
		if err != nil {
			return depths
		}
		if q, err := ch.QueueDeclarePassive(fmt.Sprintf("pgfanout.replica%d", i+1), true, false, false, false, nil); err == nil {
			depths[i] = q.Messages
		}
		_ = ch.Close()
	}
	return depths
}

// progress prints one live line a second: source changes/s, change-log backlog and each
// replica's queue depth.
func (m *monitor) progress(ctx context.Context, stats *workloadStats) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := int64(0)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := stats.changes.Load()
		depths := m.depths()
		fmt.Printf("\r%7d changes/s | change log %6d | replica1 queue %6d | replica2 queue %6d   ",
			now-last, m.backlog(ctx), depths[0], depths[1])
		last = now
	}
}

// verify waits until nothing is in flight, then compares every demo table on each replica
// with the source.
func (m *monitor) verify(ctx context.Context, e *env) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b, d := m.backlog(ctx), m.depths()
		if b == 0 && d[0] == 0 && d[1] == 0 {
			mismatch, err := compareAll(ctx, e)
			if err != nil {
				return err
			}
			if len(mismatch) == 0 {
				fmt.Println("both replicas equal the source: every row of", demoTables(), "matches")
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("replicas differ from the source: %v", mismatch)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replicas did not catch up in 2 minutes (backlog %d, queues %v)", b, d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func compareAll(ctx context.Context, e *env) ([]string, error) {
	want, err := digests(ctx, e.source.URL("demo"))
	if err != nil {
		return nil, err
	}
	var mismatch []string
	for i, r := range e.replicas {
		got, err := digests(ctx, r.URL("demo"))
		if err != nil { // a table not created yet, say: not equal yet
			mismatch = append(mismatch, fmt.Sprintf("replica%d: %v", i+1, err))
			continue
		}
		for table, sum := range want {
			if got[table] != sum {
				mismatch = append(mismatch, fmt.Sprintf("replica%d %s", i+1, table))
			}
		}
	}
	return mismatch, nil
}

// digests hashes each table's rows, sorted, as text; keyless tables compare as multisets.
func digests(ctx context.Context, url string) (map[string]string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	out := map[string]string{}
	for _, table := range demoTables() {
		var sum string
		q := "SELECT coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') FROM " +
			pgx.Identifier{"demo", table[len("demo."):]}.Sanitize() + " t"
		if err := conn.QueryRow(ctx, q).Scan(&sum); err != nil {
			return nil, fmt.Errorf("digest %s: %w", table, err)
		}
		out[table] = sum
	}
	return out, nil
}
