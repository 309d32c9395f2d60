package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// process is a child program whose output goes to a log file in the demo directory.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func (e *env) spawn(bin, name string, args ...string) {
	log, err := os.Create(filepath.Join(e.dir, name+".log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "log file:", err)
		return
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "start", name+":", err)
		log.Close()
		return
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); log.Close(); close(p.done) }()
	e.procs = append(e.procs, p)
}

// stop sends SIGTERM and waits up to 10 s (the programs promise to exit by then).
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		fmt.Fprintln(os.Stderr, p.name, "did not stop within 10 s; killing it")
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func runOnce(ctx context.Context, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), args[0], err, out)
	}
	return nil
}
