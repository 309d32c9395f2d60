package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// buildReplicator builds ./replicator into a temp dir.
func buildReplicator() (string, func(), error) {
	dir, err := os.MkdirTemp("", "bench-replicator-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	bin := filepath.Join(dir, "replicator")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/pgfanout/pgfanout/replicator").CombinedOutput()
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("go build ./replicator: %w: %s", err, out)
	}
	return bin, cleanup, nil
}
