package status

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/broker"
	"github.com/pgfanout/pgfanout/internal/sourcetest"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestParseReplicas(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Replica
		err  bool
	}{
		{"", nil, false},
		{"replica1", []Replica{{Name: "replica1"}}, false},
		{" a , b=postgres://u:p@h/db?sslmode=disable ", []Replica{{Name: "a"}, {Name: "b", URL: "postgres://u:p@h/db?sslmode=disable"}}, false},
		{"bad name", nil, true},
		{"=postgres://h/db", nil, true},
	} {
		got, err := ParseReplicas(tc.in)
		if tc.err {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestWriteTextAtAGlance(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	renewed, acquired, expires := now.Add(-2*time.Second), now.Add(-time.Hour), now.Add(10*time.Second)
	r := Report{Time: now, Source: true, Broker: true,
		Publisher: &Lease{Held: true, Term: 4, Host: "pub-a", PID: 7, AcquiredAt: &acquired, RenewedAt: &renewed, ExpiresAt: &expires},
		ChangeLog: &ChangeLog{Entries: 3, Changes: 1200, OldestAge: 75},
		Replicas: []ReplicaStatus{
			{Name: "replica1", Queue: &Queue{Name: "pgfanout.replica1", Declared: true, Messages: 5, Consumers: 2,
				DeadQueue: "pgfanout.replica1.dead", DeadDeclared: true, DeadLetters: 1},
				Copy: &Copy{Started: true, Tables: map[string]int{"done": 2, "failed": 1},
					Unfinished: []TableProgress{{Table: "public.t", State: "failed", Reason: "no such table"}}}},
			{Name: "replica2", Queue: &Queue{Name: "pgfanout.replica2"}},
		}}
	r.fillLag()
	var b bytes.Buffer
	require.NoError(t, r.WriteText(&b))
	out := b.String()
	for _, want := range []string{
		"active: pub-a pid 7, term 4, renewed 2.0s ago",
		"1200 changes in 3 entries, the oldest waiting for 1m15s",
		"REPLICA   QUEUE",
		"pgfanout.replica1",
		"at least 1m15s (the change log's oldest), 5 messages queued",
		"2/3 tables done, 1 FAILED",
		"pgfanout.replica2 (NOT DECLARED)",
		"! replica1: 1 dead letters in pgfanout.replica1.dead",
		"! replica1: the copy of public.t failed: no such table (fix it, then `replicator resync --tables public.t`)",
		"! replica2: queue pgfanout.replica2 does not exist",
	} {
		require.Contains(t, out, want)
	}
	require.True(t, r.Complete())

	r.Publisher.Held, r.Publisher.Crashed = false, true
	r.SourceError = "connect to postgres://u:xxxxx@h/db: refused"
	b.Reset()
	require.NoError(t, r.WriteText(&b))
	require.Contains(t, b.String(), "NONE ACTIVE: the leader (pub-a pid 7, term 4) is gone")
	require.Contains(t, b.String(), "! source: connect to")
	require.False(t, r.Complete())
}

// rig is a source with the capture and a tracked table, and a replica queue on the shared
// broker.
type rig struct {
	srcURL  string
	src     *pgx.Conn
	replica Replica
	amqp    *amqp.Connection
	ch      *amqp.Channel
	topo    broker.Topology
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{srcURL: testenv.NewCaptureDatabase(t), replica: Replica{Name: testenv.UniqueName("pgf_status")}}
	r.src = sourcetest.Connect(t, r.srcURL)
	sourcetest.Exec(t, r.src, `CREATE TABLE t (id int PRIMARY KEY)`, `SELECT pgfanout.track('t')`)
	r.topo = broker.Topology{Exchange: testenv.UniqueName("pgf_x"), Queue: r.replica.Queue(), Bindings: []string{"#"}}
	testenv.CleanupAMQP(t, testenv.AMQPURL(t), []string{r.topo.Exchange, r.topo.DeadExchange()}, []string{r.topo.Queue, r.topo.DeadQueue()})
	r.amqp = testenv.AMQPConn(t)
	var err error
	r.ch, err = r.amqp.Channel()
	require.NoError(t, err)
	return r
}

func (r *rig) config(t *testing.T) Config {
	return Config{SourceURL: r.srcURL, AMQPURL: testenv.AMQPURL(t), Replicas: []Replica{r.replica}}
}

func read(t *testing.T, cfg Config) Report {
	t.Helper()
	rep, err := Read(context.Background(), cfg)
	require.NoError(t, err)
	return rep
}

func TestReadFromTheServers(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rep := read(t, r.config(t))
	require.True(t, rep.Complete(), "%+v", rep)
	require.Equal(t, int64(0), rep.Publisher.Term)
	require.Nil(t, rep.Publisher.ExpiresAt, "never led: the lease expires at -infinity")
	require.Equal(t, ChangeLog{}, *rep.ChangeLog)
	require.False(t, rep.Replicas[0].Queue.Declared)

	// A change waits in the log; the queue exists with a message ready and a dead letter.
	sourcetest.Exec(t, r.src, `INSERT INTO t VALUES (1), (2)`)
	_, err := r.topo.Declare(r.amqp)
	require.NoError(t, err)
	require.NoError(t, r.ch.Publish(r.topo.Exchange, "public.t", false, false, amqp.Publishing{Body: []byte("[]")}))
	require.NoError(t, r.ch.Publish(r.topo.DeadExchange(), r.topo.Queue, false, false, amqp.Publishing{Body: []byte("[]")}))
	// A publisher leads: its lease session is this connection.
	lease := sourcetest.Connect(t, r.srcURL)
	sourcetest.Exec(t, lease, `UPDATE pgfanout.leader SET term = 3, holder = 'h', host = 'pub-a', pid = 42,
		backend_pid = pg_backend_pid(), acquired_at = now(), renewed_at = now(), expires_at = now() + interval '1 hour'`)

	testenv.Eventually(t, "both messages to be counted", 10*time.Second, func() bool {
		q := read(t, r.config(t)).Replicas[0].Queue
		return q.Messages == 1 && q.DeadLetters == 1
	})
	rep = read(t, r.config(t))
	require.True(t, rep.Complete(), "%+v", rep)
	require.Equal(t, Lease{Held: true, Term: 3, Holder: "h", Host: "pub-a", PID: 42}, withoutTimes(*rep.Publisher))
	require.Equal(t, int64(1), rep.ChangeLog.Entries)
	require.Equal(t, int64(2), rep.ChangeLog.Changes)
	require.Greater(t, rep.ChangeLog.OldestAge, 0.0)
	q := rep.Replicas[0].Queue
	require.True(t, q.Declared && q.DeadDeclared)
	require.Contains(t, rep.Replicas[0].Lag, "1 messages queued")

	// The leader's session ends without releasing: no longer active, though unexpired.
	require.NoError(t, lease.Close(context.Background()))
	testenv.Eventually(t, "the lease to show its holder gone", 10*time.Second, func() bool {
		return read(t, r.config(t)).Publisher.Crashed
	})
	require.False(t, read(t, r.config(t)).Publisher.Held)
}

func withoutTimes(l Lease) Lease {
	l.AcquiredAt, l.RenewedAt, l.ExpiresAt = nil, nil, nil
	return l
}

// Copy progress comes from the replica's bookkeeping; a replica no replicator ran on has none.
func TestReadCopyProgress(t *testing.T) {
	t.Parallel()
	repURL := testenv.NewDatabase(t)
	cfg := Config{Replicas: []Replica{{Name: "r", URL: repURL}}}
	rep := read(t, cfg)
	require.True(t, rep.Complete(), "%+v", rep)
	require.Equal(t, &Copy{Tables: map[string]int{}}, rep.Replicas[0].Copy)

	conn := sourcetest.Connect(t, repURL)
	sourcetest.Exec(t, conn, `CREATE SCHEMA pgfanout`,
		`CREATE TABLE pgfanout.copy_tables (schema_name text, table_name text, epoch text, plan int, state text, reason text,
			chunks int, rows_estimate bigint, PRIMARY KEY (schema_name, table_name))`,
		`CREATE TABLE pgfanout.copy_chunks (id bigserial, schema_name text, table_name text, plan int, state text, rows bigint)`,
		`INSERT INTO pgfanout.copy_tables VALUES ('public', 'a', 'e', 0, 'done', NULL, 1, 10), ('public', 'b', 'e', 0, 'copying', NULL, 2, 100),
			('public', 'c', 'e', 0, 'failed', 'missing column x', 0, 0)`,
		`INSERT INTO pgfanout.copy_chunks (schema_name, table_name, plan, state, rows) VALUES ('public', 'a', 0, 'done', 10),
			('public', 'b', 0, 'done', 40), ('public', 'b', 0, 'pending', NULL)`)
	c := read(t, cfg).Replicas[0].Copy
	require.Equal(t, map[string]int{"done": 1, "copying": 1, "failed": 1}, c.Tables)
	require.Equal(t, 2, c.ChunksDone)
	require.Equal(t, 3, c.Chunks)
	require.Equal(t, int64(50), c.Rows)
	require.Equal(t, []TableProgress{{Table: "public.b", State: "copying", ChunksDone: 1, Chunks: 2},
		{Table: "public.c", State: "failed", Reason: "missing column x"}}, c.Unfinished)
}

// A part that cannot be read is reported with a hint, and the others still are.
func TestReadReportsWhatItCannotRead(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	cfg := r.config(t)
	u, err := url.Parse(cfg.AMQPURL)
	require.NoError(t, err)
	u.User = url.UserPassword("nobody", "wrong-secret")
	cfg.AMQPURL = u.String()
	_, roleURL := testenv.NewRole(t, r.srcURL, "")
	cfg.SourceURL = roleURL // may read nothing of pgfanout
	rep := read(t, cfg)
	require.False(t, rep.Complete())
	require.Contains(t, rep.SourceError, "permission denied")
	require.Contains(t, rep.SourceError, "hint: the role lacks a grant")
	require.Contains(t, rep.BrokerError, "hint: RabbitMQ refused the credentials")
	require.NotContains(t, rep.BrokerError, "wrong-secret", "the password never shows")
	var b bytes.Buffer
	require.NoError(t, rep.WriteJSON(&b))
	var decoded map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &decoded))
	require.Equal(t, rep.BrokerError, decoded["broker_error"])
}

// The exporter serves what Read reads, as gauges.
func TestExporterGauges(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	_, err := r.topo.Declare(r.amqp)
	require.NoError(t, err)
	sourcetest.Exec(t, r.src, `INSERT INTO t VALUES (1)`)
	reg := prometheus.NewRegistry()
	e, err := NewExporter(r.config(t), zerolog.Nop(), reg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetGauge().GetValue()
		}
	}
	name := r.replica.Name
	require.Greater(t, got["pgfanout_status_changelog_oldest_age_seconds"], 0.0)
	require.Equal(t, map[string]float64{
		"pgfanout_status_up,part=source":                  1,
		"pgfanout_status_up,part=broker":                  1,
		"pgfanout_status_leader_active":                   0,
		"pgfanout_status_leader_term":                     0,
		"pgfanout_status_changelog_entries":               1,
		"pgfanout_status_changelog_changes":               1,
		"pgfanout_status_queue_declared,replica=" + name:  1,
		"pgfanout_status_queue_messages,replica=" + name:  0,
		"pgfanout_status_queue_consumers,replica=" + name: 0,
		"pgfanout_status_dead_letters,replica=" + name:    0,
	}, without(got, "pgfanout_status_changelog_oldest_age_seconds"))
	ok, why := e.Ready()
	require.True(t, ok, why)
}

func without(m map[string]float64, key string) map[string]float64 {
	delete(m, key)
	return m
}
