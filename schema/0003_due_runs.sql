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
-- Also: baton.current_time() reads now(), the transaction's start, instead of
-- clock_timestamp(). A STABLE function that calls a volatile one is never inlined, so
-- every call ran as a little query of its own, several per transition; and one time
-- per transaction is what a journal entry should carry.
--
-- Useful queries:
--   -- How many runs are due, and how late is the oldest?
--   SELECT count(*), max(now() - wake_at) FROM baton.runs WHERE wake_at <= now();
--   -- Runs that fail to be driven, and why
--   SELECT id, workflow, state, drive_failures, last_drive_error, wake_at FROM baton.runs WHERE drive_failures > 0;

UPDATE baton.runs SET wake_at = updated_at WHERE status = 'runnable' AND wake_at IS NULL;

-- A step moves a run without changing an indexed column (a run that stays runnable
-- keeps its wake_at), so with room left on each page the update is a HOT update: no
-- new index entries, less WAL.
ALTER TABLE baton.runs SET (fillfactor = 70);

DROP INDEX baton.runs_active;
CREATE INDEX runs_due ON baton.runs (wake_at) WHERE wake_at IS NOT NULL;

-- The journal and the step outputs lose their foreign keys to baton.runs. Their rows
-- are only ever inserted by the statement that moves the run (it inserts for the runs
-- its fenced UPDATE returned), and runs are never deleted before their journal, so
-- the check could never fail; it cost half of that statement's time (three key
-- lookups and row locks per step: 0.21 ms a move with them, 0.11 ms without).
ALTER TABLE baton.journal DROP CONSTRAINT journal_run_id_fkey;
ALTER TABLE baton.step_outputs DROP CONSTRAINT step_outputs_run_id_fkey;

-- A run whose driving fails (its context no longer decodes, the database went away
-- mid-transition, a bug) is put back with a growing delay, 2^failures seconds up to
-- five minutes, instead of being retried at every lease expiry for ever; operators
-- see the count and the last error. A transition resets both.
ALTER TABLE baton.runs
    ADD COLUMN drive_failures integer NOT NULL DEFAULT 0 CHECK (drive_failures >= 0),
    ADD COLUMN last_drive_error text;
COMMENT ON COLUMN baton.runs.drive_failures IS 'Failed attempts to drive the run since its last transition; it is retried after 2^n seconds, at most 300.';
COMMENT ON COLUMN baton.runs.last_drive_error IS 'Why the last attempt to drive the run failed.';

COMMENT ON COLUMN baton.runs.wake_at IS
    'When a worker should next look at the run: since it became runnable, when its timer ends, or when an awaited event arrived; NULL for runs waiting for events only and for finished runs.';

CREATE OR REPLACE FUNCTION baton.current_time() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('baton.fake_now', true), '')::timestamptz, now())
$$;
COMMENT ON FUNCTION baton.current_time() IS
    'The time Baton''s SQL uses: now() (the transaction''s start), unless the session sets baton.fake_now.';
