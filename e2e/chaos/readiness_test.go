package chaos

import (
	"context"
	"slices"
	"time"
)

// readyWithin bounds how long recovery is watched after a fault.
const readyWithin = 90 * time.Second

// watch is something a fault knocks out and how to tell it is back: a program's /readyz, or
// "a publisher leads and publishes".
type watch struct {
	name  string
	ready func() bool
}

// watches are what fault f knocks out, to be watched until it is back.
func (in *injector) watches(f fault) []watch {
	leader := watch{"leader", in.progs.leading}
	reps := func(names ...string) []watch {
		var out []watch
		for _, n := range names {
			p := in.progs.replicators[n]
			p.mu.Lock()
			held := p.held
			p.mu.Unlock()
			if !held && !(n == "b" && in.rig.repB.held.Load()) {
				out = append(out, watch{p.name, p.ready})
			}
		}
		return out
	}
	switch f.kind {
	case killRabbitMQ:
		return append([]watch{leader}, reps("a1", "a2", "b")...)
	case restartSourceFast, restartSourceImmediate, killPublisher:
		return []watch{leader}
	case restartReplica:
		if f.target == "b" {
			return reps("b")
		}
		return reps("a1", "a2")
	case killReplicator:
		return reps(f.target)
	case netPartition, netCut:
		switch f.target {
		case pathPub1Source, pathPub2Source, pathPubBroker:
			return []watch{leader}
		case pathRepBroker:
			return reps("a1", "a2", "b")
		case pathRepA:
			return reps("a1", "a2")
		case pathRepB:
			return reps("b")
		}
	case longOutage:
		return reps("b")
	}
	return nil
}

// measure polls each watch every 200 ms from the fault's end until it is back (or
// readyWithin passed: -1) and returns how long each took.
func measure(ctx context.Context, from time.Time, ws []watch) map[string]time.Duration {
	out := map[string]time.Duration{}
	pending := slices.Clone(ws)
	deadline := from.Add(readyWithin)
	for len(pending) > 0 && time.Now().Before(deadline) {
		var still []watch
		for _, w := range pending {
			if w.ready() {
				out[w.name] = time.Since(from)
			} else {
				still = append(still, w)
			}
		}
		pending = still
		if pause(ctx, 200*time.Millisecond) != nil {
			break
		}
	}
	for _, w := range pending {
		out[w.name] = -1
	}
	return out
}
