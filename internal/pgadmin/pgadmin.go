// Package pgadmin creates and drops throwaway databases next to an admin connection's, for the
// tests, the benchmarks and the demo. Names go through pgx.Identifier; nothing else is spliced.
package pgadmin

import (
	"context"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// Database is a database made by Create.
type Database struct {
	Name     string
	URL      string // adminURL with the database replaced
	adminURL string
}

// Create creates database name on the server of adminURL.
func Create(ctx context.Context, adminURL, name string) (*Database, error) {
	dbURL, err := WithDatabase(adminURL, name)
	if err != nil {
		return nil, err
	}
	if err := Exec(ctx, adminURL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	return &Database{Name: name, URL: dbURL, adminURL: adminURL}, nil
}

// Drop drops the database, ending the sessions still connected to it.
func (d *Database) Drop(ctx context.Context) error {
	if err := Exec(ctx, d.adminURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.Name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", d.Name, err)
	}
	return nil
}

// WithDatabase returns dbURL naming database name instead of its own.
func WithDatabase(dbURL, name string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", fmt.Errorf("parse PostgreSQL URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// Exec runs one statement on a connection of its own.
func Exec(ctx context.Context, dbURL, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql, args...)
	return err
}
