package chaos

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pgfanout/pgfanout/internal/proctest"
)

// program is one publisher or replicator slot: the process currently running it and what
// its earlier processes counted. A SIGKILL ends the process, a restart runs a new one with the
// same flags.
type program struct {
	name string
	bin  string
	args []string
	logs string // file the output of each ended process is appended to

	mu      sync.Mutex
	proc    *proctest.Proc
	up      bool     // expected to run: an exit while up is one we did not cause
	held    bool     // stopped by the long outage: other faults leave it alone
	starts  int      // processes started
	retired counters // summed over ended processes
	last    counters // the running process's latest scrape
	exits   []string // exits we did not cause, with the output's tail
}

// counters are a process's metrics, each summed over its label sets.
type counters map[string]float64

func (c counters) add(o counters) {
	for k, v := range o {
		c[k] += v
	}
}

// start runs a new process. The caller holds mu.
func (p *program) startLocked() error {
	proc, err := proctest.Start(p.bin, p.args...)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.proc, p.up, p.last = proc, true, counters{}
	p.starts++
	return nil
}

// start runs a new process unless one runs or the long outage holds the program down (its
// end starts it).
func (p *program) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held || p.proc != nil {
		return nil
	}
	return p.startLocked()
}

// kill scrapes the process's counters one last time, SIGKILLs it and waits for its end.
func (p *program) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.killLocked()
}

func (p *program) killLocked() {
	if p.proc == nil {
		return
	}
	if c, err := scrape(p.proc); err == nil {
		p.last = c
	}
	p.up = false
	p.proc.Kill()
	p.retireLocked("SIGKILL")
}

// retireLocked folds the ended process's counters into the totals and appends its output to
// the log file.
func (p *program) retireLocked(how string) {
	if p.retired == nil {
		p.retired = counters{}
	}
	p.retired.add(p.last)
	p.last = counters{}
	f, err := os.OpenFile(p.logs, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		fmt.Fprintf(f, "=== %s process %d (pid %d), ended by %s at %s ===\n%s\n", p.name, p.starts, p.proc.Pid(), how,
			time.Now().Format(time.RFC3339Nano), p.proc.Output())
		f.Close()
	}
	p.proc = nil
}

// terminate ends the process with SIGTERM, as an operator would; it must exit 0 in time.
func (p *program) terminate(timeout time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return nil
	}
	if c, err := scrape(p.proc); err == nil {
		p.last = c
	}
	p.up = false
	err := p.proc.Terminate(timeout)
	p.retireLocked("SIGTERM")
	if err != nil {
		return fmt.Errorf("%s after SIGTERM: %w", p.name, err)
	}
	return nil
}

// watch scrapes the running process and restarts it if it exited while it should run,
// recording the exit (a program must survive every fault here by retrying).
func (p *program) watch() {
	p.mu.Lock()
	proc, up := p.proc, p.up
	p.mu.Unlock()
	if proc == nil || !up {
		return
	}
	c, err := scrape(proc)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != proc {
		return // killed and restarted meanwhile
	}
	if err == nil {
		p.last = c
	}
	if p.up && !proc.Running() {
		out := proc.Output()
		p.exits = append(p.exits, fmt.Sprintf("%s exited by itself at %s; output ends:\n%s", p.name,
			time.Now().Format(time.TimeOnly), tail(out, 30)))
		p.retireLocked("itself")
		_ = p.startLocked()
	}
}

// totals are the counters over all of the slot's processes so far.
func (p *program) totals() counters {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := counters{}
	c.add(p.retired)
	c.add(p.last)
	return c
}

// gauge reads one metric of the running process now (ok false when it does not answer).
func (p *program) gauge(name string) (float64, bool) {
	p.mu.Lock()
	proc := p.proc
	p.mu.Unlock()
	if proc == nil {
		return 0, false
	}
	c, err := scrape(proc)
	if err != nil {
		return 0, false
	}
	v, ok := c[name]
	return v, ok
}

// scrape reads a process's /metrics: every sample not a histogram's, summed per name.
func scrape(proc *proctest.Proc) (counters, error) {
	addr, err := proc.Addr(0)
	if err != nil {
		return nil, err
	}
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	c := counters{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "pgfanout_") {
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		if strings.HasSuffix(name, "_bucket") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", line, err)
		}
		c[name] += v
	}
	return c, sc.Err()
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// programs are the five programs of the pipeline.
type programs struct {
	publishers  []*program // p1, p2: one leads, the other stands by
	replicators map[string]*program
}

func (ps *programs) all() []*program {
	out := append([]*program{}, ps.publishers...)
	for _, n := range []string{"a1", "a2", "b"} {
		out = append(out, ps.replicators[n])
	}
	return out
}

// newPrograms prepares the slots: each publisher reaches the source through a proxy of its
// own (so that a partition can cut off the leader alone) and RabbitMQ through theirs, the replicators theirs, and bootstrap from the source (--source-url) through
// the copier's proxy. Every setting not named here is the default.
func newPrograms(r *rig, logDir string) *programs {
	ps := &programs{replicators: map[string]*program{}}
	for i, path := range []string{pathPub1Source, pathPub2Source} {
		name := fmt.Sprintf("publisher-%d", i+1)
		ps.publishers = append(ps.publishers, &program{name: name, bin: bins.publisher,
			logs: filepath.Join(logDir, name+".log"),
			args: []string{"--source-url", r.via(path, r.source.url()),
				"--amqp-url", r.via(pathPubBroker, r.mq.node.URL()), "--http-addr", "127.0.0.1:0"}})
	}
	for _, n := range []string{"a1", "a2", "b"} {
		rep, path := r.repA, pathRepA
		if n == "b" {
			rep, path = r.repB, pathRepB
		}
		name := "replicator-" + n
		ps.replicators[n] = &program{name: name, bin: bins.replicator, logs: filepath.Join(logDir, name+".log"),
			args: []string{"--replica-url", r.via(path, rep.url()), "--amqp-url", r.via(pathRepBroker, r.mq.node.URL()),
				"--replica-name", n[:1], "--source-url", r.via(pathCopySource, r.source.url()),
				"--http-addr", "127.0.0.1:0"}}
	}
	return ps
}

// ready reports whether the running process answers /readyz with 200.
func (p *program) ready() bool {
	p.mu.Lock()
	proc := p.proc
	p.mu.Unlock()
	if proc == nil {
		return false
	}
	addr, err := proc.Addr(0)
	if err != nil {
		return false
	}
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// leading reports whether some publisher leads and is ready: publishing to RabbitMQ.
func (ps *programs) leading() bool {
	for _, p := range ps.publishers {
		if v, ok := p.gauge("pgfanout_publisher_is_leader"); ok && v == 1 && p.ready() {
			return true
		}
	}
	return false
}
