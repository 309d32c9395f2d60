package pgadmin_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pgfanout/pgfanout/internal/pgadmin"
	"github.com/pgfanout/pgfanout/internal/testenv"
)

func TestCreateExecDrop(t *testing.T) {
	ctx := context.Background()
	admin := testenv.PGURL(t)
	name := testenv.UniqueName(`pgfanout "odd" name`)
	db, err := pgadmin.Create(ctx, admin, name)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Drop(context.Background()) })

	require.NoError(t, pgadmin.Exec(ctx, db.URL, `CREATE TABLE t (v text)`))
	require.NoError(t, pgadmin.Exec(ctx, db.URL, `INSERT INTO t VALUES ($1)`, "x'; DROP TABLE t; --"))
	conn := testenv.Connect(t, db.URL)
	var v string
	require.NoError(t, conn.QueryRow(ctx, `SELECT v FROM t`).Scan(&v))
	require.Equal(t, "x'; DROP TABLE t; --", v)

	require.NoError(t, db.Drop(ctx), "drops a database with a session still connected")
	var exists bool
	require.NoError(t, testenv.Connect(t, admin).QueryRow(ctx,
		`SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, name).Scan(&exists))
	require.False(t, exists)
}

func TestWithDatabase(t *testing.T) {
	u, err := pgadmin.WithDatabase("postgres://u:p@h:5432/postgres?sslmode=disable", "other")
	require.NoError(t, err)
	require.Equal(t, "postgres://u:p@h:5432/other?sslmode=disable", u)
	_, err = pgadmin.WithDatabase("postgres://%zz", "x")
	require.Error(t, err)
}
