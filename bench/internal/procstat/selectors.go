package procstat

import "context"

// PID accounts one process under label.
func PID(label string, pid int) Selector {
	return func(_ context.Context, procs map[int]Stat) (map[int]string, error) {
		if _, ok := procs[pid]; !ok {
			return nil, nil
		}
		return map[int]string{pid: label}, nil
	}
}

// Tree accounts root and all its descendants under label: a program with the helpers it
// forks (RabbitMQ's Erlang VM and its port programs), or a PostgreSQL server as a whole.
// PostgreSQL backends are process group leaders of their own, so Group would miss them.
func Tree(label string, root int) Selector {
	return func(_ context.Context, procs map[int]Stat) (map[int]string, error) {
		out := map[int]string{}
		for _, pid := range descendants(procs, root) {
			out[pid] = label
		}
		return out, nil
	}
}

// Group accounts every process of process group pgid under label: a program started with
// its own group (Setpgid) and whatever it runs in it.
func Group(label string, pgid int) Selector {
	return func(_ context.Context, procs map[int]Stat) (map[int]string, error) {
		out := map[int]string{}
		for pid, st := range procs {
			if st.PGRP == pgid {
				out[pid] = label
			}
		}
		return out, nil
	}
}

// descendants is root (if it runs) followed by its descendants, parents before children.
func descendants(procs map[int]Stat, root int) []int {
	if _, ok := procs[root]; !ok {
		return nil
	}
	children := map[int][]int{}
	for pid, st := range procs {
		if pid != root {
			children[st.PPID] = append(children[st.PPID], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}
