-- 0008_checks_as_domains.sql
--
-- Changes: the single-column CHECK constraints of baton.runs, baton.journal and
-- baton.step_outputs become domains that hold the same checks. The rules are the same;
-- they are cheaper to enforce.
--
-- Why: PostgreSQL reads a table's CHECK expressions again at every execution of a
-- statement that writes the table, while a domain's check is read once per session.
-- The transition statement writes all three tables for every step. Measured with the
-- statement run alone by pgbench (2 cores, PostgreSQL 15): the 14 CHECKs on them cost
-- 0.06 ms of a one-move batch's 0.17 ms and 0.09 ms of a four-move batch's 0.31 ms.
-- The two checks that compare columns stay CHECKs (runs_finished_at_when_final and
-- runs_lease_complete).
--
-- To add a journal kind later: ALTER DOMAIN baton.journal_kind DROP CONSTRAINT
-- journal_kind_check, then ADD CONSTRAINT journal_kind_check with the longer list.
--
-- A column a view reads cannot change type while the view exists, so every view of
-- the schema is saved, dropped and created again exactly as it was, with its comment.
-- On a large database, changing a column to a domain reads the whole table once to
-- check it, under an exclusive lock.

CREATE DOMAIN baton.run_status AS text
    CONSTRAINT run_status_check CHECK (VALUE IN ('runnable', 'waiting', 'succeeded', 'failed', 'cancelled'));
CREATE DOMAIN baton.journal_kind AS text
    CONSTRAINT journal_kind_check CHECK (VALUE IN (
        'run-started', 'step-completed', 'step-failed', 'event-received', 'timer-fired', 'transition', 'run-finished',
        'approval-requested', 'approval-decided', 'approval-escalated', 'approval-expired'));
CREATE DOMAIN baton.positive_integer AS integer CONSTRAINT positive_integer_check CHECK (VALUE > 0);
CREATE DOMAIN baton.positive_bigint AS bigint CONSTRAINT positive_bigint_check CHECK (VALUE > 0);
CREATE DOMAIN baton.count AS integer CONSTRAINT count_check CHECK (VALUE >= 0);
CREATE DOMAIN baton.milliseconds AS double precision CONSTRAINT milliseconds_check CHECK (VALUE >= 0);
CREATE DOMAIN baton.usd AS numeric(14, 6) CONSTRAINT usd_check CHECK (VALUE >= 0);
COMMENT ON DOMAIN baton.run_status IS 'A run''s status: runnable, waiting, or how it ended.';
COMMENT ON DOMAIN baton.journal_kind IS 'What a journal entry records.';
COMMENT ON DOMAIN baton.usd IS 'An amount in US dollars, to the microdollar.';

CREATE TEMPORARY TABLE baton_saved_views ON COMMIT DROP AS
SELECT c.oid, c.relname, pg_get_viewdef(c.oid) AS definition, obj_description(c.oid, 'pg_class') AS comment
FROM pg_class c
WHERE c.relnamespace = 'baton'::regnamespace AND c.relkind = 'v';

DO $$
DECLARE saved record;
BEGIN
    -- Newest first, so a view is dropped before the views it reads.
    FOR saved IN SELECT relname FROM baton_saved_views ORDER BY oid DESC LOOP
        EXECUTE format('DROP VIEW baton.%I', saved.relname);
    END LOOP;
END
$$;

ALTER TABLE baton.runs
    DROP CONSTRAINT runs_status_check, DROP CONSTRAINT runs_seq_check, DROP CONSTRAINT runs_version_check,
    DROP CONSTRAINT runs_visit_check, DROP CONSTRAINT runs_drive_failures_check,
    ALTER COLUMN status TYPE baton.run_status,
    ALTER COLUMN seq TYPE baton.positive_bigint,
    ALTER COLUMN version TYPE baton.positive_integer,
    ALTER COLUMN visit TYPE baton.positive_integer,
    ALTER COLUMN drive_failures TYPE baton.count;

ALTER TABLE baton.journal
    DROP CONSTRAINT journal_kind_check, DROP CONSTRAINT journal_seq_check, DROP CONSTRAINT journal_attempt_check,
    DROP CONSTRAINT journal_duration_ms_check, DROP CONSTRAINT journal_tokens_in_check,
    DROP CONSTRAINT journal_tokens_out_check, DROP CONSTRAINT journal_cost_usd_check,
    ALTER COLUMN kind TYPE baton.journal_kind,
    ALTER COLUMN seq TYPE baton.positive_bigint,
    ALTER COLUMN attempt TYPE baton.positive_integer,
    ALTER COLUMN duration_ms TYPE baton.milliseconds,
    ALTER COLUMN tokens_in TYPE baton.count,
    ALTER COLUMN tokens_out TYPE baton.count,
    ALTER COLUMN cost_usd TYPE baton.usd;

ALTER TABLE baton.step_outputs
    DROP CONSTRAINT step_outputs_visit_check, DROP CONSTRAINT step_outputs_attempts_check,
    ALTER COLUMN visit TYPE baton.positive_integer,
    ALTER COLUMN attempts TYPE baton.positive_integer;

DO $$
DECLARE saved record;
BEGIN
    -- Oldest first, so a view's inputs exist when it is created.
    FOR saved IN SELECT relname, definition, comment FROM baton_saved_views ORDER BY oid LOOP
        EXECUTE format('CREATE VIEW baton.%I AS %s', saved.relname, saved.definition);
        IF saved.comment IS NOT NULL THEN
            EXECUTE format('COMMENT ON VIEW baton.%I IS %L', saved.relname, saved.comment);
        END IF;
    END LOOP;
END
$$;
