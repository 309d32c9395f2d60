// Package chaos is pgfanout's fault-injection suite: the built publisher and replicator run
// against private servers (a source, two replicas, a RabbitMQ node) while four clients write
// and a random, seeded schedule kills and restarts every program and server and cuts, delays
// and partitions the network between them. At the end every replica must equal the source.
//
// `make chaos` runs it for 8 minutes; `go test ./e2e/chaos/` (and so `make test`) for 2. Any
// run is replayed by its seed: CHAOS_SEED=<seed> CHAOS_DURATION=<d> make chaos.
package chaos

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/pgfanout/pgfanout/internal/proctest"
)

// bins are the programs under test, built once by TestMain.
var bins struct{ publisher, replicator string }

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	flag.Parse()
	dir, err := os.MkdirTemp("", "pgfanout-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for program, dst := range map[string]*string{"publisher": &bins.publisher, "replicator": &bins.replicator} {
		if *dst, err = proctest.Build(dir, program); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}
