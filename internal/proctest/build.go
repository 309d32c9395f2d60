package proctest

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// Build compiles one of this repository's programs ("publisher", "replicator") into dir and
// returns the binary's path.
func Build(dir, program string) (string, error) {
	bin := filepath.Join(dir, program)
	out, err := exec.Command("go", "build", "-o", bin, "github.com/pgfanout/pgfanout/"+program).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./%s: %w: %s", program, err, out)
	}
	return bin, nil
}
