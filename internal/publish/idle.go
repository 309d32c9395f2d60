package publish

import "context"

// The idle signal (migration 000007): while the publisher waits for work it holds the idle
// lock on its work connection AND has raised the flag in the leader row for its term. 'wakeup'
// capture notifies only when it finds both, so a session of any other role holding the lock's
// key cannot make source commits notify. The flag goes up before the lock is taken (a commit
// that finds the lock busy then also finds the flag) and comes down before the lock is
// released, and at once if the lock could not be taken. The statements are the change log
// store's (changelog.Store.TakeIdleLock), on the work connection, within its round-trip
// deadline.

// takeIdleSignal raises the flag for the term and takes the idle lock. It reports false,
// holding nothing and with the flag down, while the lock is not free (a writer's transaction
// that captured without notifying is open, or another session holds the key), or when the
// term has ended (the lease's keeper then ends it).
func (t *term) takeIdleSignal(ctx context.Context) (bool, error) {
	return t.store.TakeIdleLock(ctx, t.leaseTerm)
}

// releaseIdleSignal lowers the flag and releases the idle lock.
func (t *term) releaseIdleSignal(ctx context.Context) error { return t.store.ReleaseIdleLock(ctx) }
