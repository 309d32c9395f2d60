// Package sql holds the programs' static SQL statements as files, so that they can be read,
// reviewed and run with psql as they are. Values always travel as $n parameters.
package sql

import "embed"

// FS holds every statement, for tests that check them all.
//
//go:embed *.sql
var FS embed.FS

// The statements, one file each.
var (
	//go:embed fetch_changes.sql
	FetchChanges string
	//go:embed delete_changes.sql
	DeleteChanges string
	//go:embed idle_raise.sql
	IdleRaise string
	//go:embed idle_take.sql
	IdleTake string
	//go:embed idle_release.sql
	IdleRelease string
	//go:embed lease_acquire.sql
	LeaseAcquire string
	//go:embed lease_renew.sql
	LeaseRenew string
	//go:embed lease_release.sql
	LeaseRelease string
	//go:embed lease_read.sql
	LeaseRead string
	//go:embed advance_low_water.sql
	AdvanceLowWater string
	//go:embed track_new_tables.sql
	TrackNewTables string
	//go:embed source_stats.sql
	SourceStats string
	//go:embed copy_snapshot.sql
	CopySnapshot string
	//go:embed tracked_tables.sql
	TrackedTables string
	//go:embed table_size.sql
	TableSize string
	//go:embed shape_hashes.sql
	ShapeHashes string
	//go:embed shape_read.sql
	ShapeRead string
	//go:embed shape_write.sql
	ShapeWrite string
	//go:embed shape_hashes_recorded.sql
	ShapeHashesRecorded string
	//go:embed shape_names.sql
	ShapeNames string
	//go:embed copy_table_stopped.sql
	CopyTableStopped string
	//go:embed copy_request.sql
	CopyRequest string
	//go:embed copy_request_stale.sql
	CopyRequestStale string
	//go:embed copy_discover.sql
	CopyDiscover string
	//go:embed copy_lock_table.sql
	CopyLockTable string
	//go:embed copy_supersede.sql
	CopySupersede string
	//go:embed copy_plan_chunks.sql
	CopyPlanChunks string
	//go:embed copy_planned.sql
	CopyPlanned string
	//go:embed copy_claim.sql
	CopyClaim string
	//go:embed copy_chunk_done.sql
	CopyChunkDone string
	//go:embed copy_finish.sql
	CopyFinish string
	//go:embed copy_set_state.sql
	CopySetState string
	//go:embed copy_progress.sql
	CopyProgress string
)
