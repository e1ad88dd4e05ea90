-- 0001_baton_schema.sql
--
-- Adds: the `baton` schema, which holds everything Baton stores, and
-- `baton.current_time()`, the clock every later migration's SQL reads.
--
-- Why: one schema keeps Baton's tables apart from the application's own in a
-- shared database. The clock is a function rather than `now()` so tests can move
-- time forward (leases, deadlines, timers) without sleeping:
--   SET baton.fake_now = '2026-12-01 09:00:00+00';   -- this session only
--   RESET baton.fake_now;                            -- back to the real clock
--
-- The migrations ledger, `baton.schema_migrations`, is created by `baton migrate`
-- itself before it applies this file, since it must exist to record it:
--   SELECT version, name, applied_at FROM baton.schema_migrations ORDER BY version;

CREATE SCHEMA IF NOT EXISTS baton;
COMMENT ON SCHEMA baton IS 'Baton: durable workflow runs, their journal and everything else Baton stores.';

CREATE FUNCTION baton.current_time() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('baton.fake_now', true), '')::timestamptz, clock_timestamp())
$$;
COMMENT ON FUNCTION baton.current_time() IS
    'The time Baton''s SQL uses: clock_timestamp(), unless the session sets baton.fake_now.';

-- The installed schema version, for monitoring and support:
--   SELECT * FROM baton.schema_version;
CREATE VIEW baton.schema_version AS
SELECT max(version) AS version, count(*) AS migrations_applied, max(applied_at) AS last_applied_at
FROM baton.schema_migrations;
COMMENT ON VIEW baton.schema_version IS 'The newest migration applied to this database.';
