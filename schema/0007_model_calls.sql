-- 0007_model_calls.sql
--
-- Adds: what the models issue needs of the history. A model call is a step: its
-- journal entry (step-completed, or step-failed when no candidate answered) carries the
-- answering model, the tokens of every attempt and the cost in the columns 0002 made
-- for them, and its payload keeps the task and every attempt:
--   {"task": "classify", "model": "gpt-4o-mini", "text": "…", "costUSD": 0.00012,
--    "latencyMilliseconds": 812, "usage": {"input": 210, "output": 12},
--    "attempts": [{"model": "claude-haiku", "outcome": "http status", "error": "…",
--                  "breaker": "closed", "latencyMilliseconds": 95}, {"model": "gpt-4o-mini", "outcome": "ok", …}]}
-- (a failed call's payload is the attempts array alone).
--
--   baton.model_calls        one row per model call: run, workflow, task, model, tokens, cost, latency, fallbacks
--   baton.model_attempts     one row per attempt of a call: model, outcome, breaker, latency
--   baton.model_costs        cost and tokens per workflow, model and day
--   baton.run_costs          cost per run
--   baton.model_performance  per model: calls, p50/p95 latency, error rate, fallback rate
--
-- The partial index holds answered model calls only (a cheap predicate on every journal
-- insert), so a budget check reads a workflow's spending today without a scan.
--
-- Useful queries:
--   SELECT * FROM baton.model_costs WHERE day > now() - interval '7 days' ORDER BY cost_usd DESC;
--   SELECT * FROM baton.run_costs ORDER BY cost_usd DESC LIMIT 10;
--   SELECT model, p95_ms, error_rate, fallback_rate FROM baton.model_performance;

CREATE INDEX journal_model_calls ON baton.journal (recorded_at) WHERE model IS NOT NULL;

CREATE VIEW baton.model_calls AS
SELECT j.run_id, r.workflow, j.state_from AS state, j.step_name, j.seq, j.payload ->> 'task' AS task, j.model,
       j.tokens_in, j.tokens_out, j.cost_usd, (j.payload ->> 'latencyMilliseconds')::float8 AS latency_ms,
       (SELECT count(DISTINCT a ->> 'model') - 1 FROM jsonb_array_elements(j.payload -> 'attempts') a) AS fallbacks,
       j.recorded_at
FROM baton.journal j JOIN baton.runs r ON r.id = j.run_id
WHERE j.model IS NOT NULL AND j.kind = 'step-completed';
COMMENT ON VIEW baton.model_calls IS
    'One row per answered model call: run, workflow, state, step, task, the model that answered, tokens, cost (USD), latency and how many candidates it fell back past.';

CREATE VIEW baton.model_attempts AS
SELECT j.run_id, r.workflow, j.step_name, j.kind = 'step-completed' AS call_answered,
       a ->> 'model' AS model, a ->> 'outcome' AS outcome, a ->> 'error' AS error, a ->> 'breaker' AS breaker,
       (a ->> 'latencyMilliseconds')::float8 AS latency_ms, j.recorded_at
FROM baton.journal j JOIN baton.runs r ON r.id = j.run_id,
     jsonb_array_elements(CASE WHEN jsonb_typeof(j.payload) = 'array' THEN j.payload ELSE j.payload -> 'attempts' END) a
WHERE j.model IS NOT NULL OR (j.kind = 'step-failed' AND jsonb_typeof(j.payload) = 'array');
COMMENT ON VIEW baton.model_attempts IS
    'One row per attempt of a model call, answered or not: which model, its outcome (ok, http status, timeout, refusal, malformed response, invalid structured output, circuit open), its breaker before the try, latency.';

CREATE VIEW baton.model_costs AS
SELECT workflow, model, date_trunc('day', recorded_at AT TIME ZONE 'UTC')::date AS day,
       count(*) AS calls, sum(tokens_in) AS tokens_in, sum(tokens_out) AS tokens_out, sum(cost_usd) AS cost_usd
FROM baton.model_calls
GROUP BY workflow, model, day;
COMMENT ON VIEW baton.model_costs IS 'Cost (USD) and tokens of model calls per workflow, answering model and day (UTC).';

CREATE VIEW baton.run_costs AS
SELECT run_id, workflow, count(*) AS calls, sum(tokens_in) AS tokens_in, sum(tokens_out) AS tokens_out, sum(cost_usd) AS cost_usd
FROM baton.model_calls
GROUP BY run_id, workflow;
COMMENT ON VIEW baton.run_costs IS 'Cost (USD) and tokens of each run''s model calls.';

CREATE VIEW baton.model_performance AS
SELECT model,
       count(*) AS attempts,
       count(*) FILTER (WHERE outcome = 'ok') AS answered,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE outcome = 'ok') AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE outcome = 'ok') AS p95_ms,
       round(count(*) FILTER (WHERE outcome NOT IN ('ok', 'circuit open'))::numeric / nullif(count(*) FILTER (WHERE outcome <> 'circuit open'), 0), 4) AS error_rate,
       (SELECT round(count(*) FILTER (WHERE c.fallbacks > 0)::numeric / nullif(count(*), 0), 4)
        FROM baton.model_calls c WHERE c.model = a.model) AS fallback_rate
FROM baton.model_attempts a
GROUP BY model;
COMMENT ON VIEW baton.model_performance IS
    'Per model: attempts, answers, p50/p95 latency of answers (ms), error rate (failed tries over tries made; skips by an open breaker are not tries) and fallback rate (answers it gave after another candidate failed).';
