-- Raises the idle flag for leader term $1, naming this session, just before the publisher
-- takes its idle lock on it: 'wakeup' capture notifies only while the lock is busy and the
-- flag is up (pgfanout.publisher_idle(), migration 000007), so that whoever else holds the
-- lock cannot make commits notify. Raised before the lock is taken, so that a commit that
-- finds the lock busy also finds the flag. No row: term $1 ended.
UPDATE pgfanout.leader SET idle_term = term, idle_pid = pg_backend_pid() WHERE term = $1
RETURNING term
