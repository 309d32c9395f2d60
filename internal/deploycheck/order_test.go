package deploycheck

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
)

// isWriter reports whether a service writes changes that someone must receive: a serving
// publisher (not `publisher migrate`, `status` or `healthcheck`) or a load generator.
func isWriter(s types.ServiceConfig) bool {
	cmd := s.Command
	if len(cmd) == 0 {
		return false
	}
	switch cmd[0] {
	case "pgbench":
		return true
	case "publisher":
		return len(cmd) == 1 || strings.HasPrefix(cmd[1], "-")
	}
	return false
}

func isDeclare(s types.ServiceConfig) bool {
	return len(s.Command) >= 2 && s.Command[0] == "replicator" && s.Command[1] == "declare"
}

// waitsForDeclare reports whether name starts only after a `replicator declare` job has
// completed successfully: it depends on one with that condition, or on a service that does
// (compose starts a service only once its dependencies' conditions hold, whatever the
// condition its own dependants wait for).
func waitsForDeclare(p *types.Project, name string, seen map[string]bool) bool {
	if seen[name] {
		return false
	}
	seen[name] = true
	for dep, d := range p.Services[name].DependsOn {
		target, ok := p.Services[dep]
		if !ok || !d.Required {
			continue // an optional dependency guarantees nothing
		}
		if isDeclare(target) && d.Condition == types.ServiceConditionCompletedSuccessfully {
			return true
		}
		if waitsForDeclare(p, dep, seen) {
			return true
		}
	}
	return false
}

// writersBeforeDeclare lists the writers that can start before the queues exist, and the
// declare jobs that would not declare the queue of a replicator of the stack.
func writersBeforeDeclare(p *types.Project) []string {
	var problems []string
	names := slices.Sorted(maps.Keys(p.Services))
	declared := map[string]bool{}
	for _, name := range names {
		if s := p.Services[name]; isDeclare(s) {
			declared[env(s, "PGFANOUT_EXCHANGE")+"/"+env(s, "PGFANOUT_REPLICA_NAME")] = true
		}
	}
	for _, name := range names {
		s := p.Services[name]
		if isWriter(s) && !waitsForDeclare(p, name, map[string]bool{}) {
			problems = append(problems, fmt.Sprintf("%s can start before `replicator declare` completed: "+
				"depends_on a declare job with condition service_completed_successfully", name))
		}
	}
	// The default stack's replicator must consume the queue declare creates.
	if s, ok := p.Services["replicator"]; ok {
		if key := env(s, "PGFANOUT_EXCHANGE") + "/" + env(s, "PGFANOUT_REPLICA_NAME"); !declared[key] {
			problems = append(problems, "no declare job declares the queue of replicator ("+key+")")
		}
	}
	return problems
}

// env is a service's environment variable, "" when unset.
func env(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}

// No writer may start before the replica's queue is declared and bound: its first changes
// would be published to an exchange with no queue and dropped as unroutable.
func TestComposeWritersWaitForDeclare(t *testing.T) {
	for _, profiles := range [][]string{nil, all, {"demo"}} {
		p := loadProject(t, profiles)
		require.Emptyf(t, writersBeforeDeclare(p), "profiles %v", profiles)
	}
	p := loadProject(t, all)
	var writers []string
	for name, s := range p.Services {
		if isWriter(s) {
			writers = append(writers, name)
		}
	}
	require.ElementsMatch(t, []string{"publisher", "workload"}, writers)
}

// The check itself catches each way of getting it wrong.
func TestWritersBeforeDeclareFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(p *types.Project)
		want   string
	}{
		{"no dependency", func(p *types.Project) { delete(p.Services["publisher"].DependsOn, "declare") }, "publisher can start"},
		{"only started", func(p *types.Project) {
			p.Services["workload"].DependsOn["declare"] = types.ServiceDependency{Condition: types.ServiceConditionStarted, Required: true}
		}, "workload can start"},
		{"optional", func(p *types.Project) {
			p.Services["workload"].DependsOn["declare"] = types.ServiceDependency{Condition: types.ServiceConditionCompletedSuccessfully}
		}, "workload can start"},
		{"another queue", func(p *types.Project) {
			v := "replica9"
			p.Services["declare"].Environment["PGFANOUT_REPLICA_NAME"] = &v
		}, "no declare job declares the queue of replicator"},
		{"a second publisher", func(p *types.Project) {
			s := p.Services["publisher"]
			s.DependsOn = types.DependsOnConfig{"source": {Condition: types.ServiceConditionHealthy, Required: true}}
			p.Services["publisher-standby"] = s
		}, "publisher-standby can start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := loadProject(t, all)
			tc.mutate(p)
			problems := writersBeforeDeclare(p)
			require.NotEmpty(t, problems)
			require.Contains(t, strings.Join(problems, "\n"), tc.want)
		})
	}

	// Waiting through another service that waits for declare is enough.
	p := loadProject(t, all)
	delete(p.Services["workload"].DependsOn, "declare")
	p.Services["workload"].DependsOn["publisher"] = types.ServiceDependency{Condition: types.ServiceConditionStarted, Required: true}
	require.Empty(t, writersBeforeDeclare(p))
}
