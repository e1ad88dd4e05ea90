-- 0002_runs_and_journal.sql
--
-- Adds: what runs and what happened to it.
--   baton.runs          one row per run: where it stands now (the fold of its journal)
--   baton.journal       the append-only, gap-free history of every run
--   baton.step_outputs  each completed step's output, so a step never runs twice
--   baton.events        the inbox: events sent to runs, kept until a wait consumes them
--
-- Why this shape: a transition writes its journal entries and the run's new row in
-- one transaction, guarded by the lease owner and the expected sequence number
-- (fencing). The journal's key (run_id, seq) turns a racing duplicate write into a
-- unique violation. Workers look for work through a partial index on active runs.
--
-- Useful queries:
--   -- What happened to run X?
--   SELECT seq, kind, state_from, state_to, reason, error, recorded_at FROM baton.journal WHERE run_id = $1 ORDER BY seq;
--   -- Where is each unfinished run, and what does it wait for?
--   SELECT id, workflow, state, status, waiting_for, wake_at FROM baton.runs WHERE status IN ('runnable', 'waiting');

CREATE TABLE baton.runs (
    id               uuid PRIMARY KEY,
    workflow         text NOT NULL,
    version          integer NOT NULL CHECK (version > 0),
    -- Starting twice with the same business key returns the same run.
    business_key     text,
    -- Set for a child run, started by its parent's Children state.
    parent_run_id    uuid REFERENCES baton.runs (id),
    state            text NOT NULL,
    -- runnable: an action is to run; waiting: for an event or until wake_at; the rest are final.
    status           text NOT NULL CHECK (status IN ('runnable', 'waiting', 'succeeded', 'failed', 'cancelled')),
    -- The run's visit number: 1 in the initial state, one more per transition.
    visit            integer NOT NULL CHECK (visit > 0),
    context          jsonb NOT NULL,
    -- The seq of the run's newest journal entry; a writer must expect it (fencing).
    seq              bigint NOT NULL CHECK (seq > 0),
    -- The events a waiting run accepts, as a JSON array of names: waiting_for ? 'shipped'.
    waiting_for      jsonb,
    -- When a waiting run's timeout or sleep ends (NULL: it waits for an event only).
    timeout_at       timestamptz,
    -- When a worker should next look at the run: its timeout, or at once when an awaited event arrives.
    wake_at          timestamptz,
    -- Events sent to the run so far; a worker going back to sleep checks none came in meanwhile.
    events_received  bigint NOT NULL DEFAULT 0,
    -- The worker driving the run, until lease_expires_at; another may take it over after.
    lease_owner      text,
    lease_expires_at timestamptz,
    -- Set by a cancel request; a running action finishes, then the run is cancelled.
    cancel_reason    text,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT baton.current_time(),
    updated_at       timestamptz NOT NULL DEFAULT baton.current_time(),
    finished_at      timestamptz,
    CONSTRAINT runs_business_key_unique UNIQUE (workflow, business_key),
    CONSTRAINT runs_finished_at_when_final CHECK ((status IN ('runnable', 'waiting')) = (finished_at IS NULL)),
    CONSTRAINT runs_lease_complete CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
);
COMMENT ON TABLE baton.runs IS 'One row per workflow run: its current state, status, context and lease. Always the fold of its journal.';

-- The work a worker may claim: only active runs are indexed.
CREATE INDEX runs_active ON baton.runs (wake_at NULLS FIRST, created_at) WHERE status IN ('runnable', 'waiting');
CREATE INDEX runs_by_workflow ON baton.runs (workflow, status, created_at);
CREATE INDEX runs_by_parent ON baton.runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

CREATE TABLE baton.journal (
    run_id       uuid NOT NULL REFERENCES baton.runs (id),
    seq          bigint NOT NULL CHECK (seq > 0),
    kind         text NOT NULL CHECK (kind IN (
                     'run-started', 'step-completed', 'step-failed', 'event-received', 'timer-fired',
                     'transition', 'run-finished')),
    state_from   text,
    state_to     text,
    reason       text,
    step_name    text,
    attempt      integer CHECK (attempt > 0),
    -- run-started and transition: the context after it; step-completed: the output;
    -- event-received: the event's data.
    payload      jsonb,
    error        text,
    duration_ms  double precision CHECK (duration_ms >= 0),
    worker_id    text,
    recorded_at  timestamptz NOT NULL DEFAULT baton.current_time(),
    -- Filled for model calls (the models issue): which model, tokens and cost.
    model        text,
    tokens_in    integer CHECK (tokens_in >= 0),
    tokens_out   integer CHECK (tokens_out >= 0),
    cost_usd     numeric(14, 6) CHECK (cost_usd >= 0),
    PRIMARY KEY (run_id, seq)
);
COMMENT ON TABLE baton.journal IS 'Append-only, gap-free history of every run, keyed (run_id, seq). UPDATE and DELETE are refused.';

CREATE FUNCTION baton.refuse_journal_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'baton.journal is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON baton.journal
    FOR EACH ROW EXECUTE FUNCTION baton.refuse_journal_change();
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON baton.journal
    FOR EACH STATEMENT EXECUTE FUNCTION baton.refuse_journal_change();

CREATE TABLE baton.step_outputs (
    run_id       uuid NOT NULL REFERENCES baton.runs (id),
    visit        integer NOT NULL CHECK (visit > 0),
    step_name    text NOT NULL,
    output       jsonb NOT NULL,
    attempts     integer NOT NULL CHECK (attempts > 0),
    completed_at timestamptz NOT NULL DEFAULT baton.current_time(),
    -- The step's idempotency key: run id + visit + step name.
    PRIMARY KEY (run_id, visit, step_name)
);
COMMENT ON TABLE baton.step_outputs IS 'The output of each completed step, keyed by its idempotency key; answers the step on recovery.';

CREATE TABLE baton.events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id        uuid NOT NULL REFERENCES baton.runs (id),
    name          text NOT NULL CHECK (name <> ''),
    payload       jsonb,
    sent_at       timestamptz NOT NULL DEFAULT baton.current_time(),
    -- The journal entry that consumed the event; NULL while it waits in the inbox.
    consumed_seq  bigint
);
COMMENT ON TABLE baton.events IS 'Events sent to runs, in arrival order; each is consumed once, by the journal entry named in consumed_seq.';
CREATE INDEX events_inbox ON baton.events (run_id, id) WHERE consumed_seq IS NULL;
