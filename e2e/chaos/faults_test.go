package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// event is a fault as it ran.
type event struct {
	fault
	start, end time.Time
	from       time.Time                // what recovery is measured from: the fault's end, or a leader's SIGKILL
	note       string                   // what was hit, when it was decided at run time (which publisher led)
	skipped    string                   // why it did not run
	err        error                    // the fault could not be injected or undone (a server would not start)
	ready      map[string]time.Duration // how long after from each knocked-out part was back (-1: not within readyWithin)
	watches    []watch                  // what the fault knocks out
	measuring  bool
}

// injector runs the schedule against the rig and the programs.
type injector struct {
	rig   *rig
	progs *programs
	begin time.Time     // start of the chaos phase
	end   time.Duration // no fault starts after begin+end

	mu       sync.Mutex
	events   []*event
	measures sync.WaitGroup
}

// run runs every lane side by side and returns when all are done.
func (in *injector) run(ctx context.Context, s schedule) {
	lanes := map[int][]fault{}
	for _, f := range s {
		lanes[f.lane] = append(lanes[f.lane], f)
	}
	var wg sync.WaitGroup
	for _, faults := range lanes {
		wg.Go(func() { in.lane(ctx, faults) })
	}
	wg.Wait()
}

// startMeasure starts watching what ev knocked out, from now, unless it already started.
func (in *injector) startMeasure(ctx context.Context, ev *event) {
	if ev.measuring || len(ev.watches) == 0 {
		return
	}
	ev.measuring, ev.from = true, time.Now()
	in.measures.Go(func() {
		ready := measure(ctx, ev.from, ev.watches)
		in.mu.Lock()
		ev.ready = ready
		in.mu.Unlock()
	})
}

// lane runs its faults one after the other, each at its planned time or, when the lane runs
// late, as soon as the one before has ended; none starts after the end of the phase.
func (in *injector) lane(ctx context.Context, faults []fault) {
	for _, f := range faults {
		if err := pause(ctx, time.Until(in.begin.Add(f.at))); err != nil {
			return
		}
		ev := &event{fault: f, start: time.Now()}
		if ev.start.After(in.begin.Add(in.end)) {
			ev.skipped = "the lane ran past the end of the phase"
		} else {
			ev.watches = in.watches(f)
			ev.note, ev.skipped, ev.err = in.inject(ctx, ev)
			if ev.skipped == "" && ev.err == nil {
				in.startMeasure(ctx, ev)
			}
		}
		ev.end = time.Now()
		in.mu.Lock()
		in.events = append(in.events, ev)
		in.mu.Unlock()
		if ev.err != nil && ctx.Err() == nil {
			return // a server that does not come back ends the lane; the run fails
		}
	}
}

// inject runs one fault to its end: the target is down, cut off or slow for f.hold, then back.
func (in *injector) inject(ctx context.Context, ev *event) (note, skipped string, err error) {
	f := ev.fault
	switch f.kind {
	case killPublisher:
		p, note := in.publisher(f.target)
		p.kill()
		if f.target == "leader" {
			in.startMeasure(ctx, ev) // how long until a publisher leads again: the standby's takeover
		}
		if err := pause(ctx, f.hold); err != nil {
			return note, "", err
		}
		return note, "", p.start()
	case killReplicator:
		p := in.progs.replicators[f.target]
		p.mu.Lock()
		held := p.held
		p.mu.Unlock()
		if held {
			return "", p.name + " is held down by the long outage", nil
		}
		return "", "", in.bounce(ctx, p, f.hold)
	case killRabbitMQ:
		return "", "", in.rig.mq.crash(ctx, f.hold)
	case restartReplica:
		s := in.rig.replica(f.target)
		if s.held.Load() {
			return "", s.name + " is held down by the long outage", nil
		}
		return "", "", s.restart(ctx, f.mode, f.hold)
	case restartSourceFast:
		return "", "", in.rig.source.restart(ctx, "fast", f.hold)
	case restartSourceImmediate:
		return "", "", in.rig.source.restart(ctx, "immediate", f.hold)
	case netCut:
		in.rig.proxies[f.target].Cut()
		return "", "", nil
	case netDelay:
		px := in.rig.proxies[f.target]
		px.Delay(f.delay)
		err := pause(ctx, f.hold)
		px.Delay(0)
		return "", "", err
	case netPartition:
		// The connections that lived through the partition are reset before it heals: their
		// peers would have given up on them by TCP's timeouts, and a real network delivers the
		// resets then. (Left silent, a replica backend holding a transaction's locks would
		// stay behind the proxy forever, which no real network does.)
		px := in.rig.proxies[f.target]
		px.Blackhole()
		err := pause(ctx, f.hold)
		px.Cut()
		px.Heal()
		return "", "", err
	case longOutage:
		return "", "", in.outage(ctx, f)
	}
	return "", "", fmt.Errorf("unknown fault kind %v", f.kind)
}

// publisher picks the publisher a fault means: the one that leads now, or the other.
func (in *injector) publisher(role string) (*program, string) {
	p1, p2 := in.progs.publishers[0], in.progs.publishers[1]
	l1, _ := p1.gauge("pgfanout_publisher_is_leader")
	l2, _ := p2.gauge("pgfanout_publisher_is_leader")
	leader, standby := p1, p2
	switch {
	case l2 == 1 && l1 != 1:
		leader, standby = p2, p1
	case l1 != 1:
		if role == "leader" {
			return p1, "no publisher led: killed " + p1.name
		}
	}
	if role == "leader" {
		return leader, leader.name + " (leading)"
	}
	return standby, standby.name + " (standing by)"
}

// bounce SIGKILLs p, keeps it down for hold and starts it again.
func (in *injector) bounce(ctx context.Context, p *program, hold time.Duration) error {
	p.kill()
	if err := pause(ctx, hold); err != nil {
		return err
	}
	return p.start()
}

// outage holds replica b down for f.hold: its replicator stopped (SIGKILL, restarted after),
// or its PostgreSQL stopped.
func (in *injector) outage(ctx context.Context, f fault) error {
	if f.target == outagePostgresB {
		s := in.rig.repB
		s.held.Store(true)
		defer s.held.Store(false)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.pg.Stop(ctx); err != nil {
			return fmt.Errorf("stop replica b: %w", err)
		}
		err := pause(ctx, f.hold)
		if startErr := s.start(context.WithoutCancel(ctx)); startErr != nil {
			return startErr
		}
		return err
	}
	p := in.progs.replicators["b"]
	p.mu.Lock()
	p.held = true
	p.killLocked()
	p.mu.Unlock()
	err := pause(ctx, f.hold)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = false
	if p.proc == nil {
		if startErr := p.startLocked(); startErr != nil {
			return startErr
		}
	}
	return err
}

// ran returns the events so far, in start order.
func (in *injector) ran() []event {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]event, len(in.events))
	for i, e := range in.events {
		out[i] = *e
	}
	sortEvents(out)
	return out
}

// outageWindow is when the long outage held replica b down (zero times before it ran).
func outageWindow(evs []event) (from, to time.Time) {
	for _, e := range evs {
		if e.kind == longOutage && e.skipped == "" {
			return e.start, e.end
		}
	}
	return time.Time{}, time.Time{}
}
