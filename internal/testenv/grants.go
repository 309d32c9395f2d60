package testenv

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// PublisherGrants returns the GRANT block docs/capture.md documents for the publisher's role
// (between the <!-- publisher-grants --> marker and the end of its sql block), for role: the
// tests give the publisher exactly what users are told to give it.
func PublisherGrants(t testing.TB, role string) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	doc, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "docs", "capture.md"))
	if err != nil {
		t.Fatalf("read docs/capture.md: %v", err)
	}
	m := regexp.MustCompile("(?s)<!-- publisher-grants -->\\s*```sql\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/capture.md lacks the publisher-grants SQL block")
	}
	return strings.ReplaceAll(string(m[1]), "pgfanout_publisher", pgx.Identifier{role}.Sanitize())
}
