// Package proctest runs programs of this repository as subprocesses for end-to-end tests and
// benchmarks: output captured, the bound --http-addr read from the log, counters read from
// /metrics.
package proctest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a running program.
type Proc struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	out     bytes.Buffer
	scanned int    // bytes of out already searched for the HTTP address
	addr    string // the HTTP address, once logged
	done    chan struct{}
	err     error // Wait's result, once done is closed
}

// Start runs bin with args, stdout and stderr captured together.
func Start(bin string, args ...string) (*Proc, error) {
	return StartCmd(exec.Command(bin, args...))
}

// StartCmd runs cmd (its environment as set), stdout and stderr captured together.
func StartCmd(cmd *exec.Cmd) (*Proc, error) {
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.out.Write(b)
	if p.addr == "" {
		p.findAddr()
	}
	return n, err
}

// findAddr searches the complete lines written since the last search for the JSON
// "http server listening" line internal/health logs.
func (p *Proc) findAddr() {
	rest := p.out.Bytes()[p.scanned:]
	end := bytes.LastIndexByte(rest, '\n')
	if end < 0 {
		return
	}
	p.scanned += end + 1
	for _, l := range bytes.Split(rest[:end], []byte("\n")) {
		var line struct{ Message, Addr string }
		if json.Unmarshal(l, &line) == nil && line.Message == "http server listening" {
			p.addr = line.Addr
			return
		}
	}
}

// Output is everything the program wrote so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Running reports whether the program has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Terminate sends SIGTERM and waits up to timeout for the exit; it returns the exit error, or
// an error (after SIGKILL) when the program did not exit in time.
func (p *Proc) Terminate(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not exit within %s of SIGTERM", p.cmd.Path, timeout)
	}
}

// Kill sends SIGKILL and waits for the exit.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Addr is the address from the program's JSON "http server listening" log line (internal/health
// logs it), for programs started with --http-addr 127.0.0.1:0.
func (p *Proc) Addr(timeout time.Duration) (string, error) {
	for deadline := time.Now().Add(timeout); ; time.Sleep(10 * time.Millisecond) {
		p.mu.Lock()
		addr := p.addr
		p.mu.Unlock()
		if addr != "" {
			return addr, nil
		}
		if !p.Running() || time.Now().After(deadline) {
			return "", errors.New("no \"http server listening\" line in the output")
		}
	}
}

// Counter sums the samples of a counter (all label sets) on addr's /metrics.
func Counter(addr, name string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	total := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if line == name || strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err != nil {
				return 0, fmt.Errorf("%s: %w", line, err)
			}
			total += v
		}
	}
	return total, nil
}
