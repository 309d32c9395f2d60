package sql

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

func TestStatementsLoad(t *testing.T) {
	files, err := fs.Glob(FS, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no statements embedded: %v", err)
	}
	// Values travel as parameters: a statement must not carry string literals.
	literal := regexp.MustCompile(`'[^']*'`)
	for _, f := range files {
		b, err := FS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		var code []string
		for _, line := range strings.Split(text, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "--") {
				code = append(code, line)
			}
		}
		if literal.MatchString(strings.Join(code, "\n")) {
			t.Errorf("%s has a string literal; pass values as $n parameters", f)
		}
	}
}
