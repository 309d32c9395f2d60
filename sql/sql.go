// Package sql holds the publisher's SQL statements as files, so that they can be read,
// reviewed and run with psql as they are. Values always travel as $n parameters.
package sql

import (
	"embed"
	"fmt"
)

// FS holds every statement; the file name without ".sql" is the statement's name.
//
//go:embed *.sql
var FS embed.FS

// Load returns the text of the named statement. Names are fixed in the code, so a missing
// one is reported as an error rather than found at run time by a failing query.
func Load(name string) (string, error) {
	b, err := FS.ReadFile(name + ".sql")
	if err != nil {
		return "", fmt.Errorf("load statement %s: %w", name, err)
	}
	return string(b), nil
}
