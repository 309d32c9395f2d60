// Package testenv gives tests their own PostgreSQL databases and RabbitMQ names on the servers
// named by PGFANOUT_TEST_PG_URL and PGFANOUT_TEST_AMQP_URL (scripts/test-services.sh sets them).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pgfanout/pgfanout/internal/pgadmin"
)

const (
	PGEnv   = "PGFANOUT_TEST_PG_URL"
	AMQPEnv = "PGFANOUT_TEST_AMQP_URL"
)

// PGURL is the admin URL of the test PostgreSQL server.
func PGURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(PGEnv)
	if u == "" {
		t.Fatalf("%s is not set: run the tests with `make test` (it starts private servers) or set it to a PostgreSQL >= 13 admin URL", PGEnv)
	}
	return u
}

// AMQPURL is the URL of the test RabbitMQ server.
func AMQPURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(AMQPEnv)
	if u == "" {
		t.Fatalf("%s is not set: run the tests with `make test` (it starts private servers) or set it to a RabbitMQ >= 3.10 URL", AMQPEnv)
	}
	return u
}

// UniqueName returns prefix plus random hex, safe as a database, queue or exchange name.
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// NewDatabase creates an empty database, dropped when the test ends, and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := pgadmin.Create(ctx, PGURL(t), UniqueName("pgfanout_test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			t.Error(err)
		}
	})
	return db.URL
}

// execOnce runs one statement on a connection of its own.
func execOnce(dbURL, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return pgadmin.Exec(ctx, dbURL, sql)
}

// WithDatabase returns base with its database (path) replaced by name.
func WithDatabase(t testing.TB, base, name string) string {
	t.Helper()
	u, err := pgadmin.WithDatabase(base, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Connect opens a connection closed when the test ends.
func Connect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("parse PostgreSQL URL: %v", err)
	}
	return ConnectConfig(t, cfg)
}

// ConnectConfig opens a connection with cfg, closed when the test ends.
func ConnectConfig(t testing.TB, cfg *pgx.ConnConfig) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// AMQPConn dials the test broker; the connection closes when the test ends.
func AMQPConn(t testing.TB) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial(AMQPURL(t))
	if err != nil {
		t.Fatalf("dial %s: %v", AMQPEnv, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// AMQPChannel opens a connection and channel closed when the test ends.
func AMQPChannel(t testing.TB) *amqp.Channel {
	t.Helper()
	ch, err := AMQPConn(t).Channel()
	if err != nil {
		t.Fatalf("open AMQP channel: %v", err)
	}
	return ch
}

// CleanupAMQP removes exchanges and queues from the broker at amqpURL when the test ends.
func CleanupAMQP(t testing.TB, amqpURL string, exchanges, queues []string) {
	t.Helper()
	t.Cleanup(func() { DeleteAMQP(amqpURL, exchanges, queues) })
}

// DeleteAMQP removes exchanges and queues from the broker at amqpURL, best effort: what is
// already gone, or a broker that is gone, is fine.
func DeleteAMQP(amqpURL string, exchanges, queues []string) {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return
	}
	for _, q := range queues {
		_, _ = ch.QueueDelete(q, false, false, false)
	}
	for _, e := range exchanges {
		if strings.TrimSpace(e) != "" {
			_ = ch.ExchangeDelete(e, false, false)
		}
	}
}
