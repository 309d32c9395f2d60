package main

// resultSet holds a phase's runs by step ("load", "3 replicas") and system.
type resultSet struct {
	steps []string
	runs  map[string]map[string]runResult
}

func (r *resultSet) add(step, sys string, res runResult) {
	if r.runs == nil {
		r.runs = map[string]map[string]runResult{}
	}
	if r.runs[step] == nil {
		r.runs[step] = map[string]runResult{}
		r.steps = append(r.steps, step)
	}
	r.runs[step][sys] = res
}

func (r *resultSet) get(step, sys string) (runResult, bool) {
	res, ok := r.runs[step][sys]
	return res, ok
}

// results is everything a run measured, for the report.
type results struct {
	changes, fanout, backlog resultSet
	latency                  map[string]latencyResult
	tpcb                     []tpcbResult
	foot                     footprint
}
