// Package migrations embeds pgfanout's capture migrations: plain SQL files in golang-migrate's
// NNNNNN_name.up.sql / NNNNNN_name.down.sql layout, so the same files can be applied by
// `publisher migrate`, by psql, or copied into an application's own migration tool. The
// tests beside them check the capture they install against a real PostgreSQL named by
// PGFANOUT_TEST_PG_URL.
package migrations

import "embed"

// FS holds every *.sql file of this directory. It is exported so internal/migrate can hand it
// to golang-migrate's iofs source and tests can read the files verbatim.
//
//go:embed *.sql
var FS embed.FS
