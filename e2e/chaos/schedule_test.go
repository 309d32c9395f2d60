package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// kind is a kind of fault.
type kind int

const (
	killPublisher kind = iota
	killReplicator
	killRabbitMQ
	restartReplica
	restartSourceFast
	restartSourceImmediate
	netCut
	netDelay
	netPartition
	longOutage
	numKinds
)

func (k kind) String() string {
	switch k {
	case killPublisher:
		return "publisher SIGKILL"
	case killReplicator:
		return "replicator SIGKILL"
	case killRabbitMQ:
		return "RabbitMQ SIGKILL"
	case restartReplica:
		return "replica PostgreSQL restart"
	case restartSourceFast:
		return "source restart (fast)"
	case restartSourceImmediate:
		return "source restart (immediate)"
	case netCut:
		return "connections cut"
	case netDelay:
		return "connections delayed"
	case netPartition:
		return "partition"
	case longOutage:
		return "long replica outage"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// The network paths, each through a proxy of its own (rig.proxies).
const (
	pathPub1Source = "publisher-1→source"
	pathPub2Source = "publisher-2→source"
	pathPubBroker  = "publishers→rabbitmq"
	pathRepBroker  = "replicators→rabbitmq"
	pathRepA       = "replicators→replica-a"
	pathRepB       = "replicator→replica-b"
	pathCopySource = "copiers→source"
)

func paths() []string {
	return []string{pathPub1Source, pathPub2Source, pathPubBroker, pathRepBroker, pathRepA, pathRepB, pathCopySource}
}

// Targets of the long outage.
const (
	outageReplicatorB = "replicator b"
	outagePostgresB   = "replica b PostgreSQL"
)

// fault is one planned fault. Faults of one lane run one after the other; the lanes run side
// by side, so faults of different lanes overlap.
type fault struct {
	lane   int
	at     time.Duration // planned start, from the start of the chaos phase
	kind   kind
	target string        // publisher "leader"/"standby", replicator "a1"/"a2"/"b", replica "a"/"b", a path, an outage target
	mode   string        // replica restarts: "fast" or "immediate"
	hold   time.Duration // how long the target stays down, partitioned or delayed
	delay  time.Duration // netDelay: the latency added
}

func (f fault) String() string {
	s := fmt.Sprintf("%8s  lane %d  %s", "+"+f.at.Round(100*time.Millisecond).String(), f.lane, f.kind)
	switch f.kind {
	case killPublisher, killReplicator:
		s += fmt.Sprintf(" %s, restarted %s later", f.target, f.hold)
	case killRabbitMQ, restartSourceFast, restartSourceImmediate:
		s += fmt.Sprintf(", down %s", f.hold)
	case restartReplica:
		s += fmt.Sprintf(" %s (%s), down %s", f.target, f.mode, f.hold)
	case netCut:
		s += " " + f.target
	case netDelay:
		s += fmt.Sprintf(" %s by %s for %s", f.target, f.delay, f.hold)
	case netPartition:
		s += fmt.Sprintf(" %s for %s", f.target, f.hold)
	case longOutage:
		s += fmt.Sprintf(": %s down for %s", f.target, f.hold)
	}
	return s
}

// schedule is a run's faults in planned order.
type schedule []fault

// plan draws the schedule of a chaos phase of length d from seed: the same seed and d give
// the same schedule. Lane 1 kills programs and disturbs the network, lane 2 kills and restarts
// servers, lane 3 holds one replica down for about 30 % of the run.
func plan(seed uint64, d time.Duration) schedule {
	outage := planOutage(rand.New(rand.NewPCG(seed, 3)), d)
	s := schedule{outage}
	s = append(s, planLane(rand.New(rand.NewPCG(seed, 1)), 1, d, outage)...)
	s = append(s, planLane(rand.New(rand.NewPCG(seed, 2)), 2, d, outage)...)
	slices.SortStableFunc(s, func(a, b fault) int { return int(a.at - b.at) })
	return s
}

func planOutage(r *rand.Rand, d time.Duration) fault {
	f := fault{lane: 3, kind: longOutage, target: outageReplicatorB,
		at:   roundDur(time.Duration(float64(d) * (0.3 + 0.1*r.Float64()))),
		hold: roundDur(time.Duration(float64(d) * (0.25 + 0.1*r.Float64())))}
	if r.IntN(2) == 1 {
		f.target = outagePostgresB
	}
	return f
}

// laneKinds are each lane's kinds with their weights.
func laneKinds(lane int) ([]kind, []int) {
	if lane == 1 {
		return []kind{killPublisher, killReplicator, netCut, netDelay, netPartition}, []int{18, 24, 14, 16, 28}
	}
	return []kind{killRabbitMQ, restartReplica, restartSourceFast, restartSourceImmediate}, []int{22, 38, 20, 20}
}

// planLane draws one lane's faults until the next would not end within d. Each fault is
// planned to start when the previous one should have ended, plus a gap. How long a restart
// takes is an estimate; a lane that runs late starts its later faults late (see runLane).
func planLane(r *rand.Rand, lane int, d time.Duration, outage fault) []fault {
	kinds, weights := laneKinds(lane)
	var out []fault
	t := 3 * time.Second
	if lane == 2 {
		t = 8 * time.Second
	}
	for {
		f := fault{lane: lane, at: t, kind: kinds[pick(r, weights)]}
		busy := t >= outage.at-20*time.Second && t <= outage.at+outage.hold+20*time.Second
		est := drawFault(r, &f, busy, outage.target)
		if t+est > d {
			return out
		}
		out = append(out, f)
		gap := between(r, time.Second, 4*time.Second)
		if lane == 2 {
			gap = between(r, 4*time.Second, 10*time.Second)
		}
		t += est + gap
	}
}

// drawFault fills in f's target and durations and returns how long it should take. While the
// long outage holds a target down (busy), the other lanes leave that target alone.
func drawFault(r *rand.Rand, f *fault, busy bool, outageTarget string) time.Duration {
	switch f.kind {
	case killPublisher:
		f.target = "leader"
		if r.IntN(10) < 3 {
			f.target = "standby"
		}
		f.hold = between(r, 0, 3*time.Second)
		return f.hold + 1500*time.Millisecond
	case killReplicator:
		targets := []string{"a1", "a2", "b"}
		if busy && outageTarget == outageReplicatorB {
			targets = targets[:2]
		}
		f.target = targets[r.IntN(len(targets))]
		f.hold = between(r, 0, 3*time.Second)
		return f.hold + time.Second
	case netCut:
		f.target = paths()[r.IntN(len(paths()))]
		return 200 * time.Millisecond
	case netDelay:
		f.target = paths()[r.IntN(len(paths()))]
		f.delay = (20*time.Millisecond + time.Duration(r.Int64N(int64(380*time.Millisecond)))).Round(10 * time.Millisecond)
		f.hold = between(r, 3*time.Second, 12*time.Second)
		return f.hold
	case netPartition:
		f.target = paths()[r.IntN(len(paths()))]
		f.hold = between(r, 2*time.Second, 25*time.Second)
		return f.hold
	case killRabbitMQ:
		f.hold = between(r, 0, 3*time.Second)
		return f.hold + 15*time.Second // a node takes 5–15 s to boot on a loaded box
	case restartReplica:
		f.target = []string{"a", "b"}[r.IntN(2)]
		if busy && outageTarget == outagePostgresB {
			f.target = "a"
		}
		f.mode = []string{"fast", "immediate"}[r.IntN(2)]
		f.hold = between(r, 0, 4*time.Second)
		return f.hold + 3*time.Second
	default: // source restarts
		f.hold = between(r, 0, 4*time.Second)
		return f.hold + 3*time.Second
	}
}

// pick returns an index drawn with the given weights.
func pick(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

// between is a duration drawn uniformly from [lo, hi], rounded to 100 ms.
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return roundDur(lo + time.Duration(r.Int64N(int64(hi-lo)+1)))
}

func roundDur(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }

// counts is the number of faults of each kind.
func (s schedule) counts() map[kind]int {
	m := map[kind]int{}
	for _, f := range s {
		m[f.kind]++
	}
	return m
}

func (s schedule) String() string {
	var b strings.Builder
	for _, f := range s {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}
