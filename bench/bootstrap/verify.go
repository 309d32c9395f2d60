package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// verifyResult is `replicator verify` on the copied table: its own figure (rows compared per
// second of comparing) and the whole command's wall time.
type verifyResult struct {
	rows    int64
	perSec  float64
	elapsed time.Duration
	summary string
}

// verifySummary matches the summary line's figures: "verify: 1 tables, 1000000 rows in 100
// chunks: 1 equal, 0 not; compared in 1.5s (666666 rows/s), 2.1s in all".
var verifySummary = regexp.MustCompile(`verify: .*?(\d+) rows in .*compared in \S+ \((\d+) rows/s\)`)

func (b *bench) runVerify(ctx context.Context, r *runDBs) (*verifyResult, error) {
	cmd := exec.CommandContext(ctx, b.srv.replicator, "verify", "--source-url", r.srcURL, "--replica-url", r.dstURL,
		"--tables", benchRows.Name[0]+"."+benchRows.Name[1])
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	v := &verifyResult{elapsed: time.Since(start)}
	if err != nil {
		return nil, fmt.Errorf("replicator verify: %w\n%s%s", err, out.String(), tail(errOut.String()))
	}
	m := verifySummary.FindStringSubmatch(out.String())
	if m == nil {
		return nil, fmt.Errorf("replicator verify: no summary in:\n%s", out.String())
	}
	v.rows, _ = strconv.ParseInt(m[1], 10, 64)
	v.perSec, _ = strconv.ParseFloat(m[2], 64)
	v.summary = m[0]
	fmt.Printf("verify   %d rows compared at %.0f rows/s, %.2f s in all\n", v.rows, v.perSec, v.elapsed.Seconds())
	return v, nil
}
