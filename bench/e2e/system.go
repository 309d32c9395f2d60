package main

import (
	"context"

	"github.com/pgfanout/pgfanout/bench/internal/cluster"
)

// system is one replication system under test on its private servers: pgfanout or native
// logical replication, with a source database and one or more replica databases.
type system interface {
	name() string // "pgfanout" or "native"
	sourceURL() string
	replicaURLs() []string
	// begin is called before a measured run writes anything; the tracker tells when the
	// replicas have probably applied what the run wrote.
	begin(ctx context.Context) (tracker, error)
	scope() cpuScope
	// pause stops applying to the first replica (the replicators stop; the subscription is
	// disabled) until resume; changes keep accumulating (in the queue; in the slot).
	pause(ctx context.Context) error
	resume(ctx context.Context) error
	// addReplica adds a replica database of the main table, empty, fed from now on;
	// dropReplicas removes all but the first.
	addReplica(ctx context.Context, ddl []string) error
	dropReplicas(ctx context.Context) error
	close(ctx context.Context)
}

// tracker is a cheap test of a replica having caught up, which a checksum then confirms:
// polling the checksum itself would take the CPU the replica needs to catch up.
type tracker interface {
	// committed is called after the run's last commit, with the changes it wrote as
	// pgfanout's capture counts them (a key move is a delete and an insert).
	committed(ctx context.Context, changes int64) error
	// applied reports whether replica i has probably applied everything committed before.
	applied(ctx context.Context, replica int) (bool, error)
}

// cpuScope is what the CPU sampler accounts for one system.
type cpuScope struct {
	clusters []scopeCluster
	procs    func() map[int]string // the system's own programs now running, PID → label
	trees    map[string]int        // label → root PID of a process tree (the broker)
}

// scopeCluster is a PostgreSQL cluster whose processes are accounted under prefix.
type scopeCluster struct {
	prefix string // "pgfanout: source", …
	pg     *cluster.Postgres
}
