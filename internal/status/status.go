// Package status reads what `publisher status` and `replicator status` show — the active
// publisher, the change log's depth and age, each replica's queue, dead letters and copy
// progress — from the source, the broker and the replicas themselves, not from a running
// program, so it works while the programs are down. Exporter serves the same figures to
// Prometheus.
package status

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/pgfanout/pgfanout/internal/liveness"
)

// Config says what to read. An empty URL leaves its part out of the report.
type Config struct {
	SourceURL string    // source PostgreSQL: the lease and the change log
	AMQPURL   string    // RabbitMQ: each replica's queue and dead-letter queue
	Replicas  []Replica // the replicas to report on
	Liveness  liveness.Settings
}

// Replica names a replica (its queue is pgfanout.<Name>) and, optionally, its database,
// where its copy progress is read.
type Replica struct {
	Name string `json:"name"`
	URL  string `json:"-"`
}

// Queue is the replica's queue: pgfanout.<name>.
func (r Replica) Queue() string { return "pgfanout." + r.Name }

// DeadQueue is the replica's dead-letter queue.
func (r Replica) DeadQueue() string { return r.Queue() + ".dead" }

var replicaName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ParseReplicas parses "name[=URL],…" (the --replicas flag). A URL holding a comma cannot be
// given this way; use its key=value form.
func ParseReplicas(s string) ([]Replica, error) {
	var out []Replica
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, url, _ := strings.Cut(item, "=")
		if !replicaName.MatchString(name) {
			return nil, fmt.Errorf("replica name %q: want letters, digits, '.', '-' or '_' (the queue is pgfanout.<name>)", name)
		}
		out = append(out, Replica{Name: name, URL: url})
	}
	return out, nil
}

// Report is everything read, with an error per part that could not be read.
type Report struct {
	Time        time.Time       `json:"time"`
	Source      bool            `json:"source_read"` // whether a source URL was given
	SourceError string          `json:"source_error,omitempty"`
	Publisher   *Lease          `json:"publisher,omitempty"`
	ChangeLog   *ChangeLog      `json:"change_log,omitempty"`
	Broker      bool            `json:"broker_read"` // whether an AMQP URL was given
	BrokerError string          `json:"broker_error,omitempty"`
	Replicas    []ReplicaStatus `json:"replicas"`
}

// Lease is the publisher's leader lease, the row pgfanout.leader.
type Lease struct {
	Held       bool       `json:"active"`  // unexpired, its holder's session alive: a publisher leads
	Crashed    bool       `json:"crashed"` // unexpired, but its holder's session is gone
	Term       int64      `json:"term"`
	Holder     string     `json:"holder,omitempty"`
	Host       string     `json:"host,omitempty"`
	PID        int        `json:"pid,omitempty"`
	AcquiredAt *time.Time `json:"acquired_at,omitempty"`
	RenewedAt  *time.Time `json:"renewed_at,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"` // nil before the first term
}

// ChangeLog is pgfanout.backlog: what the publisher has yet to get confirmed.
type ChangeLog struct {
	Entries   int64      `json:"entries"`
	Changes   int64      `json:"changes"`
	Oldest    *time.Time `json:"oldest_captured_at,omitempty"`
	OldestAge float64    `json:"oldest_age_seconds"` // on the source's clock; 0 when empty
}

// ReplicaStatus is one replica's queue, dead letters and copies.
type ReplicaStatus struct {
	Name       string `json:"name"`
	Queue      *Queue `json:"queue,omitempty"` // nil when the broker was not read
	QueueError string `json:"queue_error,omitempty"`
	Copy       *Copy  `json:"copy,omitempty"` // nil without the replica's URL
	CopyError  string `json:"copy_error,omitempty"`
	// Lag says how far behind the replica is, as far as the source and the broker tell:
	// the replica lacks at least every change still in the change log (so it is at least
	// as old as the oldest entry) and every message ready in its queue. The replica records
	// no apply times; the lag in seconds of what was applied is the replicators'
	// pgfanout_replicator_lag_seconds.
	Lag string `json:"lag"`
}

// Queue is a replica's queue as a passive declare reports it.
type Queue struct {
	Name         string `json:"name"`
	Declared     bool   `json:"declared"`
	Messages     int    `json:"messages_ready"` // not counting those delivered and unacknowledged
	Consumers    int    `json:"consumers"`
	DeadQueue    string `json:"dead_queue"`
	DeadDeclared bool   `json:"dead_declared"`
	DeadLetters  int    `json:"dead_letters"`
}

// Copy is the replica's copy of each tracked table (docs/bootstrap.md), from its
// pgfanout.copy_tables and copy_chunks.
type Copy struct {
	Started      bool            `json:"started"` // false: no replicator created its bookkeeping yet
	Tables       map[string]int  `json:"tables"`  // per state: planning, copying, done, failed
	ChunksDone   int             `json:"chunks_done"`
	Chunks       int             `json:"chunks"`
	Rows         int64           `json:"rows_copied"`
	RowsEstimate int64           `json:"rows_estimate"`
	Unfinished   []TableProgress `json:"unfinished,omitempty"` // tables not done, failed ones with their reason
}

// TableProgress is one table's copy that is not done.
type TableProgress struct {
	Table      string `json:"table"`
	State      string `json:"state"`
	Reason     string `json:"reason,omitempty"`
	ChunksDone int    `json:"chunks_done"`
	Chunks     int    `json:"chunks"`
}
