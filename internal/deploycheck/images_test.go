package deploycheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// pinned reports whether an image reference names a tag (not latest) or a digest.
func pinned(ref string) bool {
	if strings.Contains(ref, "@sha256:") {
		return true
	}
	name := ref[strings.LastIndex(ref, "/")+1:] // registry host:port is not a tag
	i := strings.LastIndex(name, ":")
	return i >= 0 && name[i+1:] != "" && name[i+1:] != "latest"
}

func TestPinned(t *testing.T) {
	for ref, want := range map[string]bool{
		"postgres:17.12-trixie":                     true,
		"gcr.io/distroless/static-debian13:nonroot": true,
		"busybox@sha256:abc":                        true,
		"postgres":                                  false,
		"postgres:latest":                           false,
		"localhost:5000/pgfanout":                   false,
		"localhost:5000/pgfanout:dev":               true,
	} {
		require.Equal(t, want, pinned(ref), ref)
	}
}

// imageRule is what an image must be: a supported release at least (by its version's
// leading numbers), named down to the given number of version parts (3: 4.4.1, a patch
// release, not a moving 4.4), optionally with a required tag suffix.
type imageRule struct {
	min    []int
	parts  int
	suffix string
	why    string
}

// supportedImages are the floors of the third-party images: raise them as releases go out
// of support (README, "Tested with").
var supportedImages = map[string]imageRule{
	// Supported majors: 15 to 18 (14 ended November 2026); the tag names the minor.
	"postgres": {min: []int{15}, parts: 2, why: "a supported PostgreSQL major at an exact minor"},
	// Only the latest minor series gets community support; 3.x (3.10 here before) is gone.
	"rabbitmq":        {min: []int{4, 4}, parts: 3, suffix: "-management", why: "a supported RabbitMQ release with the management UI"},
	"prom/prometheus": {min: []int{3, 0}, parts: 3, why: "a Prometheus 3 release"},
	"grafana/grafana": {min: []int{12, 0}, parts: 3, why: "a supported Grafana release"},
}

var leadingVersion = regexp.MustCompile(`^v?(\d+(?:\.\d+)*)`)

// checkImage says what is wrong with ref, "" when nothing is: pinned, and for a known image
// at or above its floor at the required precision.
func checkImage(ref string) string {
	if !pinned(ref) {
		return "must have an explicit tag other than latest"
	}
	name, tag, _ := strings.Cut(ref, ":")
	rule, known := supportedImages[name]
	if !known {
		return ""
	}
	m := leadingVersion.FindStringSubmatch(tag)
	if m == nil {
		return "tag " + tag + " names no version; want " + rule.why
	}
	var version []int
	for _, part := range strings.Split(m[1], ".") {
		n, _ := strconv.Atoi(part)
		version = append(version, n)
	}
	if len(version) < rule.parts {
		return fmt.Sprintf("tag %s moves with each release; pin %d version parts (%s)", tag, rule.parts, rule.why)
	}
	for i, floor := range rule.min {
		if version[i] > floor {
			break
		}
		if version[i] < floor {
			return fmt.Sprintf("%s is out of support; want %s, at least %v", tag, rule.why, rule.min)
		}
	}
	if !strings.HasSuffix(tag, rule.suffix) {
		return fmt.Sprintf("tag %s must end in %s (%s)", tag, rule.suffix, rule.why)
	}
	return ""
}

func TestCheckImage(t *testing.T) {
	for ref, ok := range map[string]bool{
		"postgres:17.12-trixie":       true,
		"postgres:18.1":               true,
		"postgres:15.13-bookworm":     true,
		"postgres:14.20":              false, // end of life
		"postgres:17":                 false, // moves with every minor
		"postgres:latest":             false,
		"rabbitmq:4.4.1-management":   true,
		"rabbitmq:5.0.0-management":   true,
		"rabbitmq:3.10.25-management": false,
		"rabbitmq:4.3.6-management":   false,
		"rabbitmq:4.4-management":     false,
		"rabbitmq:4.4.1":              false, // no management UI
		"prom/prometheus:v3.15.0":     true,
		"prom/prometheus:v2.53.0":     false,
		"grafana/grafana:13.2.3":      true,
		"pgfanout:dev":                true,
	} {
		problem := checkImage(ref)
		require.Equalf(t, ok, problem == "", "%s: %s", ref, problem)
	}
}

// Every image of the stack is pinned and, for the third-party servers, supported.
func TestComposeImagesSupported(t *testing.T) {
	p := loadProject(t, all)
	for name, s := range p.Services {
		require.NotEmptyf(t, s.Image, "%s has no image", name)
		require.Emptyf(t, checkImage(s.Image), "%s image %s", name, s.Image)
	}
}

// The pgfanout image is always built from this checkout: an image of the same tag left
// from an older build, or pulled, is never used without a word.
func TestComposePgfanoutImageIsBuilt(t *testing.T) {
	p := loadProject(t, all)
	n := 0
	for name, s := range p.Services {
		if !strings.HasPrefix(s.Image, "pgfanout:") {
			continue
		}
		n++
		require.NotNilf(t, s.Build, "%s: the pgfanout image must be built (build:)", name)
		require.Equalf(t, "build", s.PullPolicy, "%s: the pgfanout image needs pull_policy: build", name)
	}
	require.GreaterOrEqual(t, n, 5, "migrate, declare, publisher, replicator, replicator2, status use the pgfanout image")
}

// goToolchain is the Go version go.mod builds with: its toolchain line, else its go line.
func goToolchain(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	require.NoError(t, err)
	if m := regexp.MustCompile(`(?m)^toolchain go(\S+)`).FindSubmatch(text); m != nil {
		return string(m[1])
	}
	m := regexp.MustCompile(`(?m)^go (\S+)`).FindSubmatch(text)
	require.NotNil(t, m, "go.mod has no go line")
	return string(m[1])
}
