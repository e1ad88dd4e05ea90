-- 0004_history_views.sql
--
-- Adds: views that answer the questions operators ask of the history, so nobody has
-- to rebuild them from the journal by hand.
--   baton.waiting_runs       where is every unfinished run, what does it wait for, since when
--   baton.step_latency       per workflow and step: runs, failures, p50/p95/p99 duration
--   baton.workflow_outcomes  per workflow version: runs by outcome, success rate, p50/p95 run time
--
-- Useful queries:
--   SELECT * FROM baton.waiting_runs WHERE workflow = 'order-delay' ORDER BY waiting_since;
--   SELECT * FROM baton.step_latency ORDER BY p95_ms DESC LIMIT 10;
--   SELECT workflow, version, success_rate, p95_seconds FROM baton.workflow_outcomes;

CREATE VIEW baton.waiting_runs AS
SELECT r.id, r.workflow, r.version, r.state, r.status,
       CASE WHEN r.lease_owner IS NOT NULL AND r.lease_expires_at > baton.current_time() THEN 'being driven'
            WHEN r.status = 'runnable' THEN 'due'
            WHEN r.waiting_for IS NOT NULL THEN 'event'
            WHEN EXISTS (SELECT 1 FROM baton.runs c WHERE c.parent_run_id = r.id AND c.status IN ('runnable', 'waiting'))
                THEN 'children'
            ELSE 'timer' END AS waiting_on,
       r.waiting_for AS events, r.timeout_at, r.wake_at, r.lease_owner,
       r.updated_at AS waiting_since, baton.current_time() - r.updated_at AS age,
       r.cancel_reason, r.drive_failures, r.last_drive_error
FROM baton.runs r
WHERE r.status IN ('runnable', 'waiting');
COMMENT ON VIEW baton.waiting_runs IS
    'Every unfinished run: its state, what it waits on (due, being driven, event, timer, children), its deadline and since when.';

CREATE VIEW baton.step_latency AS
SELECT r.workflow, j.state_from AS state, j.step_name,
       count(*) FILTER (WHERE j.kind = 'step-completed') AS completed,
       count(*) FILTER (WHERE j.kind = 'step-failed') AS failed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY j.duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY j.duration_ms) AS p95_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY j.duration_ms) AS p99_ms,
       max(j.recorded_at) AS last_recorded_at
FROM baton.journal j JOIN baton.runs r ON r.id = j.run_id
WHERE j.kind IN ('step-completed', 'step-failed')
GROUP BY r.workflow, j.state_from, j.step_name;
COMMENT ON VIEW baton.step_latency IS
    'Per workflow, state and step: completions, failures (after the last attempt) and duration percentiles in ms.';

CREATE VIEW baton.workflow_outcomes AS
SELECT workflow, version,
       count(*) AS runs,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE status IN ('runnable', 'waiting')) AS unfinished,
       round(count(*) FILTER (WHERE status = 'succeeded')::numeric
             / nullif(count(*) FILTER (WHERE finished_at IS NOT NULL), 0), 4) AS success_rate,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at))
           FILTER (WHERE finished_at IS NOT NULL) AS p50_seconds,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at))
           FILTER (WHERE finished_at IS NOT NULL) AS p95_seconds
FROM baton.runs
GROUP BY workflow, version;
COMMENT ON VIEW baton.workflow_outcomes IS
    'Per workflow version: runs by outcome, the share of finished runs that succeeded, and run duration percentiles.';
