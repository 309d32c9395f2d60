package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/pgfanout/pgfanout/bench/internal/cluster"
	"github.com/pgfanout/pgfanout/bench/internal/workload"
	"github.com/pgfanout/pgfanout/internal/change"
	"github.com/pgfanout/pgfanout/internal/migrate"
	"github.com/pgfanout/pgfanout/internal/publish"
)

type result struct {
	queues   int
	changes  int
	capture  time.Duration
	drain    time.Duration
	messages int64
	bytes    int64 // JSON of the rows drained
	ceiling  float64
}

func (r result) drainRate() float64 { return float64(r.changes) / r.drain.Seconds() }

// runScenario prepares a source with o.changes captured changes and queues bound to its
// table, then times the publisher's drain and the broker's one-message-per-change ceiling.
func runScenario(ctx context.Context, o options, queues int) (result, error) {
	r := result{queues: queues, changes: o.changes}
	source, err := cluster.NewDatabase(ctx, o.pgURL, "pgfanout_bench")
	if err != nil {
		return r, err
	}
	defer func() { _ = source.Drop(context.Background()) }()
	db := source.URL
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return r, err
	}
	defer conn.Close(context.Background())
	exchange := source.Name
	ch, cleanup, err := declareQueues(o.amqpURL, exchange, queues)
	if err != nil {
		return r, err
	}
	defer cleanup()
	if r.capture, r.bytes, err = capture(ctx, conn, db, o); err != nil {
		return r, err
	}
	if r.drain, r.messages, err = drain(ctx, o, db, exchange); err != nil {
		return r, err
	}
	if err := purge(ch, exchange, queues); err != nil {
		return r, err
	}
	if o.ceiling > 0 {
		if r.ceiling, err = brokerCeiling(o, exchange); err != nil {
			return r, err
		}
	}
	return r, purge(ch, exchange, queues)
}

// capture installs pgfanout, tracks public.bench and inserts o.changes rows.
func capture(ctx context.Context, conn *pgx.Conn, db string, o options) (time.Duration, int64, error) {
	if err := migrate.Up(ctx, db, zerolog.Nop()); err != nil {
		return 0, 0, err
	}
	for _, s := range []string{`CREATE TABLE bench (id bigint PRIMARY KEY, payload text)`, `SELECT pgfanout.track('bench')`} {
		if _, err := conn.Exec(ctx, s); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", s, err)
		}
	}
	// {"id":N,"payload":"…"}: md5 text so that the log compresses like real data, not like 'xxxx'.
	pad := max(o.rowBytes-30, 1)
	start := time.Now()
	if err := workload.InRanges(ctx, conn, `INSERT INTO bench SELECT g, left(repeat(md5(g::text), $3), $4)
		FROM generate_series($1::bigint, $2::bigint) g`, o.changes, o.stmtRows, pad/32+1, pad); err != nil {
		return 0, 0, fmt.Errorf("insert: %w", err)
	}
	elapsed := time.Since(start)
	var bytes int64
	err := conn.QueryRow(ctx, `SELECT sum(bytes) FROM pgfanout.changes`).Scan(&bytes)
	return elapsed, bytes, err
}

// drain runs the publisher in-process until it has published every change.
func drain(ctx context.Context, o options, db, exchange string) (time.Duration, int64, error) {
	reg := prometheus.NewRegistry()
	p, err := publish.New(publish.Config{SourceURL: db, AMQPURL: o.amqpURL, Exchange: exchange, BatchSize: o.batch},
		zerolog.New(zerolog.NewConsoleWriter()).Level(zerolog.WarnLevel), reg)
	if err != nil {
		return 0, 0, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- p.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	for gathered(reg, "pgfanout_publisher_changes_published_total") < float64(o.changes) {
		select {
		case err := <-done:
			return 0, 0, fmt.Errorf("publisher stopped: %v", err)
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(5 * time.Millisecond): // poll interval
		}
	}
	return time.Since(start), int64(gathered(reg, "pgfanout_publisher_messages_published_total")), nil
}

func gathered(reg *prometheus.Registry, name string) float64 {
	families, _ := reg.Gather()
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) > 0 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// brokerCeiling publishes o.ceiling messages of one change each (persistent, mandatory,
// confirms with 1000 in flight), as a one-message-per-change publisher would.
func brokerCeiling(o options, exchange string) (float64, error) {
	conn, err := amqp.Dial(o.amqpURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return 0, err
	}
	if err := ch.Confirm(false); err != nil {
		return 0, err
	}
	row := fmt.Sprintf(`{"id":1,"payload":"%s"}`, strings.Repeat("a", max(o.rowBytes-30, 1)))
	body := change.AppendBody(nil, []change.Change{{Version: 1, Op: change.Insert, Schema: "public", Table: "bench",
		Key: json.RawMessage(`{"id" : 1}`), Row: json.RawMessage(row), TxID: 1, CommittedAt: time.Now()}})
	var pending []*amqp.DeferredConfirmation
	start := time.Now()
	for i := 0; i < o.ceiling; i++ {
		if len(pending) == 1000 {
			if !pending[0].Wait() {
				return 0, fmt.Errorf("message %d not confirmed", i)
			}
			pending = pending[1:]
		}
		dc, err := ch.PublishWithDeferredConfirm(exchange, "public.bench", true, false, amqp.Publishing{
			ContentType: change.ContentType, DeliveryMode: amqp.Persistent, Body: body})
		if err != nil {
			return 0, err
		}
		pending = append(pending, dc)
	}
	for _, dc := range pending {
		if !dc.Wait() {
			return 0, fmt.Errorf("message not confirmed")
		}
	}
	return float64(o.ceiling) / time.Since(start).Seconds(), nil
}

func declareQueues(amqpURL, exchange string, n int) (*amqp.Channel, func(), error) {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		return nil, nil, err
	}
	ch, err := conn.Channel()
	if err == nil {
		err = ch.ExchangeDeclare(exchange, amqp.ExchangeTopic, true, false, false, false, nil)
	}
	for i := 0; err == nil && i < n; i++ {
		q := fmt.Sprintf("%s.%d", exchange, i)
		if _, err = ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err == nil {
			err = ch.QueueBind(q, "public.bench", exchange, false, nil)
		}
	}
	cleanup := func() {
		for i := 0; i < n; i++ {
			_, _ = ch.QueueDelete(fmt.Sprintf("%s.%d", exchange, i), false, false, false)
		}
		_ = ch.ExchangeDelete(exchange, false, false)
		_ = conn.Close()
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return ch, cleanup, nil
}

func purge(ch *amqp.Channel, exchange string, n int) error {
	for i := 0; i < n; i++ {
		if _, err := ch.QueuePurge(fmt.Sprintf("%s.%d", exchange, i), false); err != nil {
			return err
		}
	}
	return nil
}
