// Package capture holds the tests of pgfanout's source capture: the plain-SQL migration in
// migrations/ (statement-level triggers writing pgfanout.changes). It has no Go code of its
// own; the tests run against a real PostgreSQL named by PGFANOUT_TEST_PG_URL.
package capture
