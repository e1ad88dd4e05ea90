-- 0006_last_entry_is_step.sql
--
-- Adds: baton.runs.last_entry_is_step, whether the run's newest journal entry is a
-- step's. A worker that claims a run in an action state must look up the steps its
-- visit journaled already (a crashed worker's) only when it is.
--
-- Why a column: the claim used to read this from the journal in its RETURNING list.
-- That subquery sees the claim statement's snapshot, while the claimed row itself is
-- its newest version (a row updated meanwhile is re-read before it is locked). So a
-- worker's step journaled in a commit that landed between the two (its lease expiring
-- as it committed) was not seen, and the step ran again: the crash test caught it
-- about once in twenty runs. Read from the row, the flag is as new as the row's seq.
--
-- Useful queries:
--   -- Unfinished runs whose last journaled thing was a step (their action is part way)
--   SELECT id, workflow, state, seq FROM baton.runs WHERE last_entry_is_step AND status = 'runnable';

ALTER TABLE baton.runs ADD COLUMN last_entry_is_step boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN baton.runs.last_entry_is_step IS
    'Whether the run''s newest journal entry is a step''s (step-completed or step-failed): a claimer then looks up the steps its visit journaled.';

UPDATE baton.runs r SET last_entry_is_step = true
WHERE r.status IN ('runnable', 'waiting')
  AND EXISTS (SELECT 1 FROM baton.journal j WHERE j.run_id = r.id AND j.seq = r.seq AND j.kind IN ('step-completed', 'step-failed'));
