-- 0003_due_runs.sql
--
-- Changes: how workers find work. wake_at now says, for every active run, when a
-- worker should next look at it:
--   runnable                 when it became runnable (it is due at once)
--   waiting with a timer     when its timeout or sleep ends
--   waiting for an event     NULL, until an awaited event or a cancel request sets it to now
--   finished                 NULL
-- so the runs a worker may claim are exactly those with wake_at <= now, found by one
-- range scan of a partial index that holds only them (runs waiting for events,
-- however many, are not in it), oldest first.
--
-- Useful query:
--   -- How many runs are due, and how late is the oldest?
--   SELECT count(*), max(now() - wake_at) FROM baton.runs WHERE wake_at <= now();

UPDATE baton.runs SET wake_at = updated_at WHERE status = 'runnable' AND wake_at IS NULL;

-- A step moves a run without changing an indexed column (a run that stays runnable
-- keeps its wake_at), so with room left on each page the update is a HOT update: no
-- new index entries, less WAL.
ALTER TABLE baton.runs SET (fillfactor = 70);

DROP INDEX baton.runs_active;
CREATE INDEX runs_due ON baton.runs (wake_at) WHERE wake_at IS NOT NULL;

COMMENT ON COLUMN baton.runs.wake_at IS
    'When a worker should next look at the run: since it became runnable, when its timer ends, or when an awaited event arrived; NULL for runs waiting for events only and for finished runs.';
