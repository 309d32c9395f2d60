package procstat

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Selector labels the processes it accounts for among procs, every process on the machine
// by PID. A process keeps the label it was first given; a process labelled by several
// selectors counts for the first. A process left unlabelled is not accounted (yet): once
// labelled it counts from the first sample, or from its start if it started later.
type Selector func(ctx context.Context, procs map[int]Stat) (map[int]string, error)

// Config says what a Sampler accounts and how often it looks.
type Config struct {
	Selectors []Selector
	Interval  time.Duration // between samples; default 250 ms
	Root      string        // default /proc; tests point it at a fixture
}

// Usage is what the processes of one label cost between the first and the last sample.
type Usage struct {
	Label     string
	CPU       time.Duration // user + system time
	Processes int           // distinct processes accounted
	// PeakRSS and PeakRSSAnon are the largest sums of the processes' VmRSS and RssAnon at one
	// sample: sampled, so a short peak between samples is missed. RSS counts shared memory
	// (PostgreSQL's shared buffers) once per process that touched it; RssAnon does not.
	PeakRSS, PeakRSSAnon int64
	MaxHWM               int64 // largest VmHWM (kernel-tracked peak RSS) of one of them
}

// Result is the accounting so far: Elapsed from the first sample to the last, Usage by label.
type Result struct {
	Elapsed time.Duration
	Usage   []Usage
}

// Get is the usage of label; ok is false when no process had it.
func (r Result) Get(label string) (u Usage, ok bool) {
	i := slices.IndexFunc(r.Usage, func(u Usage) bool { return u.Label == label })
	if i < 0 {
		return Usage{}, false
	}
	return r.Usage[i], true
}

// Cores is CPU time per wall time: 1.0 is one core busy throughout.
func (r Result) Cores(u Usage) float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return u.CPU.Seconds() / r.Elapsed.Seconds()
}

// key names a process across samples: a PID reused by a new process is another key.
type key struct {
	pid   int
	start uint64
}

type tracked struct {
	label  string
	cpu    uint64 // Stat.CPU at the last sample
	parent key
}

type account struct {
	Usage
	ticks int64
}

// Sampler accounts CPU and memory of labelled processes. Start takes the first sample before
// it returns, so that work begun after Start is measured whole; Stop takes the last.
type Sampler struct {
	cfg     Config
	cancel  context.CancelFunc
	done    chan error
	stop    sync.Once
	stopErr error

	mu       sync.Mutex
	first    time.Time
	last     time.Time
	base     map[key]uint64 // CPU of every process at the first sample
	procs    map[key]*tracked
	accounts map[string]*account
}

// Start takes the first sample and keeps sampling in the background until Stop.
func Start(ctx context.Context, cfg Config) (*Sampler, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	if cfg.Root == "" {
		cfg.Root = "/proc"
	}
	s := &Sampler{cfg: cfg, procs: map[key]*tracked{}, accounts: map[string]*account{}}
	if err := s.sample(ctx); err != nil {
		return nil, err
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan error, 1)
	go func() { s.done <- s.loop(ctx) }()
	return s, nil
}

func (s *Sampler) loop(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.sample(ctx); err != nil {
				return err
			}
		}
	}
}

// Stop takes a last sample and returns the accounting; the error is the first failed sample.
// Later calls return the same.
func (s *Sampler) Stop() (Result, error) {
	s.stop.Do(func() {
		s.cancel()
		if s.stopErr = <-s.done; s.stopErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.stopErr = s.sample(ctx)
	})
	return s.Result(), s.stopErr
}

// Result is the accounting up to the latest sample; it may be read while sampling goes on.
func (s *Sampler) Result() Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Result{Elapsed: s.last.Sub(s.first)}
	for _, label := range slices.Sorted(maps.Keys(s.accounts)) {
		a := s.accounts[label]
		u := a.Usage
		u.CPU = time.Duration(max(a.ticks, 0)) * ClockTick
		r.Usage = append(r.Usage, u)
	}
	return r
}

// sample reads every process once and accounts the labelled ones.
func (s *Sampler) sample(ctx context.Context) error {
	procs, err := Scan(s.cfg.Root)
	if err != nil {
		return err
	}
	labels := map[int]string{}
	for _, sel := range s.cfg.Selectors {
		l, err := sel(ctx, procs)
		if err != nil {
			return fmt.Errorf("select processes: %w", err)
		}
		for pid, label := range l {
			if _, taken := labels[pid]; !taken {
				labels[pid] = label
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = time.Now()
	if s.base == nil {
		s.first = s.last
		s.base = make(map[key]uint64, len(procs))
		for _, st := range procs {
			s.base[keyOf(st)] = st.CPU()
		}
	}
	s.accountCPU(procs, labels)
	s.accountMemory(procs)
	return nil
}

func keyOf(st Stat) key { return key{st.PID, st.StartTime} }

// accountCPU adds each accounted process's CPU since the last sample to its label. A process
// that has exited was waited for by its parent, whose children's time now holds its whole
// CPU: the part already accounted under the child's label is taken off the parent's, so
// nothing counts twice and the rest of the child's time (after its last sample) counts for
// the parent's label.
func (s *Sampler) accountCPU(procs map[int]Stat, labels map[int]string) {
	for pid, label := range labels {
		st, ok := procs[pid]
		if k := keyOf(st); ok && s.procs[k] == nil {
			s.procs[k] = &tracked{label: label, cpu: s.base[k]} // 0 when started after the first sample
			s.account(label).Processes++
		}
	}
	for k, p := range s.procs {
		st, alive := procs[k.pid]
		if alive && st.StartTime == k.start {
			s.account(p.label).ticks += int64(st.CPU()) - int64(p.cpu)
			p.cpu = st.CPU()
			if parent, ok := procs[st.PPID]; ok {
				p.parent = keyOf(parent)
			}
			continue
		}
		delete(s.procs, k)
		if parent := s.procs[p.parent]; parent != nil && stillRuns(procs, p.parent) {
			s.account(parent.label).ticks -= int64(p.cpu)
		}
	}
}

func stillRuns(procs map[int]Stat, k key) bool {
	st, ok := procs[k.pid]
	return ok && st.StartTime == k.start
}

// accountMemory adds the accounted processes' resident memory up per label.
func (s *Sampler) accountMemory(procs map[int]Stat) {
	rss, anon := map[string]int64{}, map[string]int64{}
	for k, p := range s.procs {
		m, err := ReadMemory(s.cfg.Root, k.pid)
		if err != nil || procs[k.pid].State == 'Z' {
			continue // exited since the scan, or a zombie: it holds no memory
		}
		rss[p.label] += m.RSS
		anon[p.label] += m.RSSAnon
		a := s.account(p.label)
		a.MaxHWM = max(a.MaxHWM, m.HWM)
	}
	for label, a := range s.accounts {
		a.PeakRSS = max(a.PeakRSS, rss[label])
		a.PeakRSSAnon = max(a.PeakRSSAnon, anon[label])
	}
}

func (s *Sampler) account(label string) *account {
	a := s.accounts[label]
	if a == nil {
		a = &account{Usage: Usage{Label: label}}
		s.accounts[label] = a
	}
	return a
}
