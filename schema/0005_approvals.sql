-- 0005_approvals.sql
--
-- Adds: decision routing and human approvals.
--   journal kinds            approval-requested (payload: the action, policy, rule and
--                            decision), approval-decided (one per decision: who, role,
--                            comment), approval-escalated, approval-expired
--   baton.approvals          one row per action an approval state proposed: what it is,
--                            what the policy decided, who may approve it now, by when,
--                            and how it ended
--   baton.approval_history   append-only: each request, decision (who, as what role,
--                            when, why, with what edit), escalation and expiry
--   baton.pending_approvals          what waits for whom: one row per pending approval and
--                                    role, with its age and deadline
--   baton.approval_decision_times    per workflow and role: decisions, p50/p95 time to decide
--   baton.approval_escalations       every escalation: from which approvers to which, when
--   baton.approval_audit             who approved or rejected what, when and why
--
-- An approval state's run waits with status 'waiting' and wakes at the deadline of the
-- level asked now (baton.runs.timeout_at = baton.approvals.deadline_at). A decision is
-- delivered to the run as the inbox event 'baton.approval-decision', so the run itself
-- journals it (approval-decided), and the journal stays written by one fenced writer.
--
-- Useful queries:
--   SELECT * FROM baton.pending_approvals WHERE role = 'logistics' ORDER BY deadline_at;
--   SELECT * FROM baton.approval_audit WHERE actor = 'alice' ORDER BY at DESC;
--   SELECT workflow, role, decisions, p50_seconds, p95_seconds FROM baton.approval_decision_times;

ALTER TABLE baton.journal DROP CONSTRAINT journal_kind_check;
ALTER TABLE baton.journal ADD CONSTRAINT journal_kind_check CHECK (kind IN (
    'run-started', 'step-completed', 'step-failed', 'event-received', 'timer-fired', 'transition', 'run-finished',
    'approval-requested', 'approval-decided', 'approval-escalated', 'approval-expired'));

CREATE TABLE baton.approvals (
    id            uuid PRIMARY KEY,
    run_id        uuid NOT NULL REFERENCES baton.runs (id),
    workflow      text NOT NULL,
    state         text NOT NULL,
    visit         integer NOT NULL CHECK (visit > 0),
    policy        text NOT NULL,
    rule          text NOT NULL,
    decision      text NOT NULL CHECK (decision IN ('auto-execute', 'suggest-only', 'require-approval', 'escalate')),
    -- The proposed action.
    kind          text NOT NULL,
    amount        double precision,
    risk_score    double precision,
    confidence    double precision,
    subject       text,
    requested_by  text,
    attributes    jsonb NOT NULL DEFAULT '{}',
    payload       jsonb,
    -- The approver chain as the policy gave it when the action was proposed:
    -- [{"roles": {"logistics": ["alice", "bob"]}, "quorum": 1, "deadline_seconds": 14400}, …]
    approvers     jsonb NOT NULL DEFAULT '[]',
    four_eyes     boolean NOT NULL,
    when_expired  text NOT NULL CHECK (when_expired IN ('expire', 'reject', 'approve')),
    -- The level of the chain asked now, from 0; deadline_at is that level's. A policy
    -- that escalates at once asks level 0 and records it as an escalation.
    level         integer NOT NULL DEFAULT 0 CHECK (level >= 0),
    deadline_at   timestamptz,
    status        text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'suggested', 'auto-approved', 'withdrawn')),
    -- The payload an approver's edit replaced the proposal's with.
    edited_payload jsonb,
    requested_at  timestamptz NOT NULL DEFAULT baton.current_time(),
    decided_at    timestamptz,
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    -- One approval per visit of an approval state.
    UNIQUE (run_id, visit),
    CHECK (status <> 'pending' OR deadline_at IS NOT NULL)
);
COMMENT ON TABLE baton.approvals IS
    'Each action an approval state proposed, the policy''s decision, the approvers asked now and by when, and how it ended.';
COMMENT ON COLUMN baton.approvals.approvers IS
    'The approver chain when the action was proposed: per level the roles with their members, the quorum and the deadline in seconds.';
COMMENT ON COLUMN baton.approvals.level IS 'The level of the chain asked now, from 0; it grows with each escalation.';
CREATE INDEX approvals_pending ON baton.approvals (deadline_at) WHERE status = 'pending';
CREATE INDEX approvals_suggested ON baton.approvals (requested_at) WHERE status = 'suggested';

CREATE TABLE baton.approval_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    approval_id  uuid NOT NULL REFERENCES baton.approvals (id),
    happened     text NOT NULL CHECK (happened IN
                     ('requested', 'auto-executed', 'suggested', 'approved', 'rejected', 'escalated', 'expired', 'withdrawn')),
    -- Who decided, and as which role (decisions only).
    actor        text,
    role         text,
    level        integer NOT NULL,
    comment      text,
    edit         jsonb,
    at           timestamptz NOT NULL DEFAULT baton.current_time(),
    CHECK ((happened IN ('approved', 'rejected')) = (actor IS NOT NULL))
);
COMMENT ON TABLE baton.approval_history IS
    'Append-only: each request, decision (who, role, when, comment, edit), escalation, expiry and withdrawal of an approval.';
-- A person decides an approval once.
CREATE UNIQUE INDEX approval_history_one_decision ON baton.approval_history (approval_id, actor) WHERE actor IS NOT NULL;
CREATE INDEX approval_history_by_approval ON baton.approval_history (approval_id, id);

-- The journal's guard, now naming the table it guards, guards the history too.
CREATE OR REPLACE FUNCTION baton.refuse_journal_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only: % is not allowed', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
COMMENT ON FUNCTION baton.refuse_journal_change() IS 'Refuses UPDATE, DELETE and TRUNCATE on the append-only tables: baton.journal, baton.approval_history.';
CREATE TRIGGER approval_history_append_only BEFORE UPDATE OR DELETE ON baton.approval_history
    FOR EACH ROW EXECUTE FUNCTION baton.refuse_journal_change();
CREATE TRIGGER approval_history_no_truncate BEFORE TRUNCATE ON baton.approval_history
    FOR EACH STATEMENT EXECUTE FUNCTION baton.refuse_journal_change();

CREATE VIEW baton.pending_approvals AS
SELECT a.id AS approval_id, a.run_id, a.workflow, a.state, a.kind, a.amount, a.subject, a.requested_by,
       role.name AS role, a.level + 1 AS level, (a.approvers -> a.level ->> 'quorum')::integer AS quorum,
       (SELECT count(*) FROM baton.approval_history h
        WHERE h.approval_id = a.id AND h.happened = 'approved' AND h.level = a.level) AS approvals_so_far,
       a.requested_at, baton.current_time() - a.requested_at AS age,
       a.deadline_at, a.deadline_at - baton.current_time() AS time_left
FROM baton.approvals a,
     jsonb_object_keys(a.approvers -> a.level -> 'roles') AS role(name)
WHERE a.status = 'pending';
COMMENT ON VIEW baton.pending_approvals IS
    'Each pending approval once per role that may decide it now, with its level, quorum, age and deadline.';

CREATE VIEW baton.approval_decision_times AS
SELECT a.workflow, h.role,
       count(*) AS decisions,
       count(*) FILTER (WHERE h.happened = 'approved') AS approved,
       count(*) FILTER (WHERE h.happened = 'rejected') AS rejected,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM h.at - a.requested_at)) AS p50_seconds,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM h.at - a.requested_at)) AS p95_seconds
FROM baton.approval_history h JOIN baton.approvals a ON a.id = h.approval_id
WHERE h.happened IN ('approved', 'rejected')
GROUP BY a.workflow, h.role;
COMMENT ON VIEW baton.approval_decision_times IS
    'Per workflow and role: decisions made, approved, rejected, and p50/p95 seconds from request to decision.';

CREATE VIEW baton.approval_escalations AS
SELECT h.approval_id, a.run_id, a.workflow, a.kind, a.amount, a.subject,
       CASE WHEN h.level > 0
            THEN (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(a.approvers -> (h.level - 1) -> 'roles') k) END AS from_roles,
       (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(a.approvers -> h.level -> 'roles') k) AS to_roles,
       h.level + 1 AS to_level, h.at
FROM baton.approval_history h JOIN baton.approvals a ON a.id = h.approval_id
WHERE h.happened = 'escalated';
COMMENT ON VIEW baton.approval_escalations IS
    'Every escalation: a deadline that passed to the next level of approvers, or a policy that escalated at once (from_roles NULL).';

CREATE VIEW baton.approval_audit AS
SELECT h.at, h.approval_id, a.run_id, a.workflow, a.state, a.kind, a.amount, a.subject, a.requested_by,
       h.happened, h.actor, h.role, h.level + 1 AS level, h.comment, h.edit, a.policy, a.rule, a.decision, a.status AS approval_status
FROM baton.approval_history h JOIN baton.approvals a ON a.id = h.approval_id;
COMMENT ON VIEW baton.approval_audit IS
    'Who approved or rejected what, when and why (comment, edit), with every request, escalation and expiry around it.';
