package deploycheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type instruction struct {
	cmd  string // upper-case keyword: FROM, RUN, ...
	args string
}

type stage struct {
	from, name   string
	instructions []instruction
}

// parseDockerfile splits a Dockerfile into stages. Enough for these checks:
// comments, blank lines and backslash continuations; no heredocs.
func parseDockerfile(text string) []stage {
	var stages []stage
	logical := ""
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && logical == "") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			logical += strings.TrimSpace(strings.TrimSuffix(trimmed, "\\")) + " "
			continue
		}
		logical += trimmed
		cmd, args, _ := strings.Cut(logical, " ")
		logical = ""
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := stage{}
			for i := 0; i < len(f); i++ {
				switch {
				case strings.HasPrefix(f[i], "--"): // --platform=...
				case strings.EqualFold(f[i], "AS") && i+1 < len(f):
					st.name = f[i+1]
					i++
				default:
					st.from = f[i]
				}
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
		}
	}
	return stages
}

func (s stage) find(cmd string) []string {
	var args []string
	for _, in := range s.instructions {
		if in.cmd == cmd {
			args = append(args, in.args)
		}
	}
	return args
}

func TestDockerfile(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	require.NoError(t, err)
	stages := parseDockerfile(string(text))
	require.GreaterOrEqual(t, len(stages), 2, "Dockerfile must be multi-stage")

	var build *stage
	for i := range stages {
		if stages[i].name == "build" {
			build = &stages[i]
		}
		if stages[i].from != "scratch" {
			require.Truef(t, pinned(stages[i].from), "FROM %q must have an explicit tag other than latest", stages[i].from)
		}
	}
	require.NotNil(t, build, "need a build stage: FROM ... AS build")
	// The builder is exactly go.mod's toolchain: a newer image would build with another Go
	// than the tests ran, an older one refuses go.mod (GOTOOLCHAIN=local).
	want := "golang:" + goToolchain(t) + "-"
	require.Truef(t, strings.HasPrefix(build.from, want), "FROM %s: the builder must be %s<debian release>", build.from, want)
	require.Truef(t, strings.HasSuffix(build.from, "-trixie"), "FROM %s: build on the current Debian (trixie)", build.from)
	require.Contains(t, strings.Join(append(build.find("ENV"), build.find("RUN")...), "\n"), "CGO_ENABLED=0",
		"binaries must be static (CGO_ENABLED=0)")

	final := stages[len(stages)-1]
	require.NotEqual(t, "build", final.name, "the build stage must not be the final image")
	require.False(t, strings.HasPrefix(final.from, "golang"), "final image must not be the Go toolchain image")
	// A current base: distroless on Debian 13.
	require.Truef(t, strings.HasPrefix(final.from, "gcr.io/distroless/static-debian13:"), "final image %s: want gcr.io/distroless/static-debian13", final.from)
	copies := strings.Join(final.find("COPY"), "\n")
	require.Contains(t, copies, "--from=build", "final stage must copy the binaries from the build stage")
	require.Contains(t, copies, "/usr/local/bin", "binaries belong in /usr/local/bin")

	users := final.find("USER")
	require.NotEmpty(t, users, "final stage needs an explicit non-root USER")
	user, _, _ := strings.Cut(users[len(users)-1], ":")
	require.NotContains(t, []string{"", "root", "0"}, user, "final stage must not run as root")
}

func TestParseDockerfile(t *testing.T) {
	stages := parseDockerfile("# c\nFROM --platform=$BUILDPLATFORM golang:1 AS build\nRUN a \\\n  b\n\nFROM scratch\nUSER 1:1\n")
	require.Equal(t, []stage{
		{from: "golang:1", name: "build", instructions: []instruction{{"RUN", "a b"}}},
		{from: "scratch", instructions: []instruction{{"USER", "1:1"}}},
	}, stages)
}
