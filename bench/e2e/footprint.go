package main

import (
	"context"
	"fmt"
)

// footprint is what the replicas and programs occupy: bookkeeping and table sizes at two
// moments, and every pgfanout process's peak memory when it stopped.
type footprint struct {
	snaps   []footSnap
	stopped []stoppedProc
}

type footSnap struct {
	when                      string
	fanBook, fanTable, natTbl int64 // bytes
}

// footprintAt measures the first replicas of both main pipelines.
func (b *bench) footprintAt(ctx context.Context, when string) error {
	s := footSnap{when: when}
	var err error
	if s.fanBook, s.fanTable, err = sizes(ctx, b.fan.replicaURLs()[0]); err != nil {
		return err
	}
	if _, s.natTbl, err = sizes(ctx, b.nat.replicaURLs()[0]); err != nil {
		return err
	}
	b.res.foot.snaps = append(b.res.foot.snaps, s)
	return nil
}

// sizes are the total size (heap, indexes, TOAST) of the tables in schema pgfanout and of
// the main table on a replica.
func sizes(ctx context.Context, url string) (book, table int64, err error) {
	conn, err := connect(ctx, url, controlApp)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint,
		pg_total_relation_size($1::regclass)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'pgfanout' AND c.relkind IN ('r', 'p')`, benchRows.Name.Sanitize()).Scan(&book, &table)
	if err != nil {
		return 0, 0, fmt.Errorf("replica sizes: %w", err)
	}
	return book, table, nil
}

// settingOn reads one server setting of a new session (a reload reaches a session between
// its statements; a new one has it for sure).
func settingOn(ctx context.Context, url, name string) (string, error) {
	conn, err := connect(ctx, url, controlApp)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var v string
	err = conn.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v)
	return v, err
}
