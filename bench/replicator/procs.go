package main

import (
	"os"

	"github.com/pgfanout/pgfanout/internal/proctest"
)

// buildReplicator builds ./replicator into a temp dir.
func buildReplicator() (string, func(), error) {
	dir, err := os.MkdirTemp("", "bench-replicator-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	bin, err := proctest.Build(dir, "replicator")
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return bin, cleanup, nil
}
