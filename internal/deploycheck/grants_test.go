package deploycheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// grantStatements splits SQL into its GRANT statements, whitespace normalized, comments dropped.
func grantStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		if strings.HasPrefix(strings.TrimSpace(line), `\`) {
			continue // a psql meta-command ends at the line's end
		}
		cur.WriteString(" " + line)
	}
	for _, stmt := range strings.Split(cur.String(), ";") {
		stmt = strings.Join(strings.Fields(stmt), " ")
		if strings.HasPrefix(stmt, "GRANT ") {
			out = append(out, stmt)
		}
	}
	return out
}

func readRepoFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, path))
	require.NoError(t, err)
	return string(b)
}

// to keeps the statements granted to role.
func to(stmts []string, role string) []string {
	var out []string
	for _, s := range stmts {
		if strings.HasSuffix(s, " TO "+role) {
			out = append(out, s)
		}
	}
	return out
}

// The stack's roles get exactly the documented GRANTs: the publisher docs/capture.md's tested
// block, the copier docs/bootstrap.md's (on schema pgfanout; its per-table grants are in the
// initdb script, for the demo tables).
func TestStackGrantsAreTheDocumentedOnes(t *testing.T) {
	grants := grantStatements(readRepoFile(t, "deploy/source/grants.sql"))

	block := regexp.MustCompile("(?s)<!-- publisher-grants -->\\s*```sql\n(.*?)```").FindStringSubmatch(readRepoFile(t, "docs/capture.md"))
	require.NotNil(t, block, "docs/capture.md lacks the publisher-grants SQL block")
	require.Equal(t, grantStatements(block[1]), to(grants, "pgfanout_publisher"),
		"deploy/source/grants.sql must grant the publisher exactly docs/capture.md's block")

	copier := regexp.MustCompile("(?s)## GRANTs on the source.*?```sql\n(.*?)```").FindStringSubmatch(readRepoFile(t, "docs/bootstrap.md"))
	require.NotNil(t, copier, "docs/bootstrap.md lacks the copier's GRANT block")
	var documented []string
	for _, s := range to(grantStatements(copier[1]), "pgfanout_copier") {
		if strings.Contains(s, " pgfanout.") || strings.Contains(s, "SCHEMA pgfanout ") {
			documented = append(documented, s)
		}
	}
	require.NotEmpty(t, documented)
	got := to(grants, "pgfanout_copier")
	require.Subset(t, got, documented, "deploy/source/grants.sql must grant the copier docs/bootstrap.md's block")
	// Beyond it, only reading the figures `replicator status` shows (README, Operations).
	extra := []string{}
	for _, s := range got {
		if !contains(documented, s) {
			extra = append(extra, s)
		}
	}
	require.Equal(t, []string{"GRANT SELECT ON pgfanout.leader, pgfanout.backlog TO pgfanout_copier"}, extra)

	// The per-table grants: the copier reads, the writer writes, the demo tables only.
	roles := grantStatements(readRepoFile(t, "deploy/source/initdb/20-roles.sql"))
	require.Contains(t, roles, "GRANT SELECT ON demo.customers, demo.orders, demo.events TO pgfanout_copier")
	require.Contains(t, roles, "GRANT SELECT, INSERT, UPDATE, DELETE ON demo.customers, demo.orders, demo.events TO pgfanout_writer")
	for _, s := range roles {
		require.NotContainsf(t, s, "pgfanout.", "initdb runs before the capture exists: %s belongs in grants.sql", s)
	}
	require.NotContains(t, readRepoFile(t, "deploy/source/initdb/20-roles.sql"), "SUPERUSER")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
