import Baton
import Foundation
import LibPQ

/// Latency of the documented history questions (schema/ views and the journal) on a
/// history of `runs` runs, made by SQL in the shape the engine writes: three workflows,
/// 90% succeeded, 3% failed, 2% cancelled, 5% waiting; a run-started, a step and a
/// run-finished entry per run; an approval (decided, escalated or pending) for one
/// order in twenty.
struct HistoryViewBenchmark {
    struct Figure: Encodable {
        let question: String
        let query: String
        let p50Milliseconds: Double
        let p95Milliseconds: Double
    }

    struct Report: Encodable {
        let runs: Int
        let journalEntries: Int
        let approvals: Int
        let timesEach: Int
        let figures: [Figure]
    }

    /// A question and the query that answers it; `run` is a run id picked at random
    /// before each execution, for the questions about one run.
    struct Question {
        let question: String
        let sql: String
        let query: @Sendable (UUID) -> PostgresQuery
    }

    static let questions: [Question] = [
        Question(question: "what happened to run X", sql: "SELECT … FROM baton.journal WHERE run_id = $1 ORDER BY seq") {
            "SELECT seq, kind, state_from, state_to, reason, error, recorded_at FROM baton.journal WHERE run_id = \($0) ORDER BY seq"
        },
        Question(question: "where is run X waiting", sql: "SELECT * FROM baton.waiting_runs WHERE id = $1") {
            "SELECT * FROM baton.waiting_runs WHERE id = \($0)"
        },
        Question(question: "the oldest waiting orders", sql: "SELECT * FROM baton.waiting_runs WHERE workflow = 'order-delay' ORDER BY waiting_since LIMIT 100") { _ in
            "SELECT * FROM baton.waiting_runs WHERE workflow = 'order-delay' ORDER BY waiting_since LIMIT 100"
        },
        Question(question: "p95 latency per step", sql: "SELECT * FROM baton.step_latency ORDER BY p95_ms DESC LIMIT 10") { _ in
            "SELECT * FROM baton.step_latency ORDER BY p95_ms DESC LIMIT 10"
        },
        Question(question: "success rate per workflow", sql: "SELECT * FROM baton.workflow_outcomes") { _ in
            "SELECT * FROM baton.workflow_outcomes"
        },
        Question(question: "pending approvals of a role", sql: "SELECT * FROM baton.pending_approvals WHERE role = 'logistics' ORDER BY deadline_at LIMIT 100") { _ in
            "SELECT * FROM baton.pending_approvals WHERE role = 'logistics' ORDER BY deadline_at LIMIT 100"
        },
        Question(question: "time to decision per workflow and role", sql: "SELECT * FROM baton.approval_decision_times") { _ in
            "SELECT * FROM baton.approval_decision_times"
        },
        Question(question: "the latest escalations", sql: "SELECT * FROM baton.approval_escalations ORDER BY at DESC LIMIT 100") { _ in
            "SELECT * FROM baton.approval_escalations ORDER BY at DESC LIMIT 100"
        },
        Question(question: "who approved what for run X", sql: "SELECT * FROM baton.approval_audit WHERE run_id = $1") {
            "SELECT * FROM baton.approval_audit WHERE run_id = \($0)"
        },
        Question(question: "the installed schema version", sql: "SELECT * FROM baton.schema_version") { _ in
            "SELECT * FROM baton.schema_version"
        },
        Question(question: "the last day's decisions", sql: "SELECT * FROM baton.approval_audit WHERE at > now() - interval '1 day' ORDER BY at DESC LIMIT 100") { _ in
            "SELECT * FROM baton.approval_audit WHERE at > now() - interval '1 day' ORDER BY at DESC LIMIT 100"
        },
    ]

    let configuration: PostgresConfiguration
    let runs: Int
    let timesEach: Int
    let progress: Progress

    func run() async throws -> Report {
        let admin = try await PostgresConnection.connect(to: configuration)
        defer { Task { await admin.close() } }
        try await admin.runScript("DROP SCHEMA IF EXISTS baton CASCADE")
        try await Migrator(migrations: try Migration.bundled()).migrate(admin)
        progress.say("  writing a history of \(runs) runs …")
        try await makeHistory(admin)
        let sizes = try await admin.query("SELECT (SELECT count(*) FROM baton.journal), (SELECT count(*) FROM baton.approvals)")[0]
        var figures: [Figure] = []
        for question in Self.questions {
            progress.say("  \(question.question) …")
            var milliseconds: [Double] = []
            // One execution first, to warm the cache as a dashboard's second look would.
            for execution in 0...timesEach {
                let run = try await admin.query("""
                    SELECT coalesce((SELECT run_id FROM baton.approvals WHERE run_id > gen_random_uuid() ORDER BY run_id LIMIT 1),
                                    (SELECT run_id FROM baton.approvals ORDER BY run_id LIMIT 1))
                    """).scalar(UUID.self)
                let started = ContinuousClock.now
                _ = try await admin.query(question.query(run))
                if execution > 0 { milliseconds.append((ContinuousClock.now - started).milliseconds) }
            }
            milliseconds.sort()
            figures.append(Figure(
                question: question.question, query: question.sql,
                p50Milliseconds: milliseconds[milliseconds.count / 2],
                p95Milliseconds: milliseconds[min(milliseconds.count - 1, Int((Double(milliseconds.count) * 0.95).rounded(.up)) - 1)]
            ))
        }
        return Report(
            runs: runs, journalEntries: try sizes.decode(Int.self, at: 0), approvals: try sizes.decode(Int.self, at: 1),
            timesEach: timesEach, figures: figures
        )
    }

    private func makeHistory(_ admin: PostgresConnection) async throws {
        try await admin.query("""
            INSERT INTO baton.runs (id, workflow, version, state, status, visit, context, seq, waiting_for, timeout_at, wake_at,
                                    created_at, updated_at, finished_at)
            SELECT id, workflow, 1,
                   CASE WHEN outcome = 'waiting' THEN 'awaitCarrier' WHEN outcome = 'succeeded' THEN 'done' ELSE outcome END,
                   outcome, 3, '{"orderID": "HIST"}', CASE WHEN outcome = 'waiting' THEN 2 ELSE 3 END,
                   CASE WHEN outcome = 'waiting' THEN '["carrier-confirmed"]'::jsonb END,
                   CASE WHEN outcome = 'waiting' THEN created + interval '30 days' END,
                   CASE WHEN outcome = 'waiting' THEN created + interval '30 days' END,
                   created, created + (n % 600) * interval '1 second',
                   CASE WHEN outcome <> 'waiting' THEN created + (n % 600) * interval '1 second' END
            FROM (
                SELECT n, gen_random_uuid() AS id, (ARRAY['order-delay', 'ten-steps', 'customer-notice'])[1 + n % 3] AS workflow,
                       now() - (n % 43200) * interval '1 minute' AS created,
                       CASE WHEN n % 100 < 90 THEN 'succeeded' WHEN n % 100 < 93 THEN 'failed'
                            WHEN n % 100 < 95 THEN 'cancelled' ELSE 'waiting' END AS outcome
                FROM generate_series(1, \(runs)) n
            ) made
            """)
        try await admin.query("""
            INSERT INTO baton.journal (run_id, seq, kind, state_from, state_to, step_name, attempt, duration_ms, payload, worker_id, recorded_at)
            SELECT r.id, e.seq, e.kind, e.state_from, e.state_to, e.step_name, e.attempt, e.duration_ms, e.payload, 'bench',
                   r.created_at + e.seq * interval '1 second'
            FROM baton.runs r, LATERAL (VALUES
                (1, 'run-started', NULL, 'assess', NULL, NULL, NULL::float8, r.context),
                (2, 'step-completed', 'assess', NULL, 'check-inventory', 1, 1 + abs(hashtext(r.id::text)) % 400, '{"available": 3}'::jsonb),
                (3, 'run-finished', r.state, NULL, NULL, NULL, NULL, NULL)
            ) AS e(seq, kind, state_from, state_to, step_name, attempt, duration_ms, payload)
            WHERE e.seq <= r.seq
            """)
        try await admin.query("""
            WITH asked AS (
                INSERT INTO baton.approvals (id, run_id, workflow, state, visit, policy, rule, decision, kind, amount, approvers,
                                             four_eyes, when_expired, level, deadline_at, status, requested_at, decided_at)
                SELECT gen_random_uuid(), id, workflow, 'approveReroute', 2, 'logistics', 'reroutes', 'require-approval', 'reroute',
                       1000 + n % 5000,
                       '[{"roles": {"logistics": ["alice", "bob"]}, "quorum": 1, "deadline_seconds": 14400},
                         {"roles": {"ops-lead": ["carol"]}, "quorum": 1, "deadline_seconds": 3600}]',
                       true, 'reject', CASE WHEN n % 4 = 0 THEN 1 ELSE 0 END,
                       CASE WHEN status = 'waiting' THEN now() + interval '4 hours' END,
                       CASE WHEN status = 'waiting' THEN 'pending' WHEN n % 7 = 0 THEN 'rejected' ELSE 'approved' END,
                       created_at,
                       CASE WHEN status <> 'waiting' THEN created_at + CASE WHEN n % 4 = 0 THEN interval '4 hours' ELSE interval '0' END + (n % 7200) * interval '1 second' END
                FROM (SELECT id, workflow, status, created_at, row_number() OVER () AS n FROM baton.runs WHERE workflow = 'order-delay') o
                WHERE n % 20 = 0
                RETURNING id, level, status, requested_at, decided_at
            ), requested AS (
                INSERT INTO baton.approval_history (approval_id, happened, level, at) SELECT id, 'requested', 0, requested_at FROM asked
            ), escalated AS (
                INSERT INTO baton.approval_history (approval_id, happened, level, at)
                SELECT id, 'escalated', 1, requested_at + interval '4 hours' FROM asked WHERE level = 1
            )
            INSERT INTO baton.approval_history (approval_id, happened, actor, role, level, comment, at)
            SELECT id, status, CASE WHEN level = 1 THEN 'carol' ELSE 'alice' END, CASE WHEN level = 1 THEN 'ops-lead' ELSE 'logistics' END,
                   level, 'benchmark', decided_at
            FROM asked WHERE status IN ('approved', 'rejected')
            """)
        try await admin.runScript("ANALYZE; CHECKPOINT")
    }
}
