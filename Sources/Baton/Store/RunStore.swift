import Foundation
import LibPQ

/// Runs, their journal and their leases in PostgreSQL: every write a transition
/// makes goes through here, each in one statement (one round trip, one transaction).
///
/// Writes that move a run are fenced: they name the worker that holds the run's lease
/// and the journal seq they expect, and change nothing if either is stale. A worker
/// that lost its lease (paused, partitioned) therefore cannot write.
public struct RunStore: Sendable {
    public let pool: PostgresPool
    /// The worker this store writes as: lease owner and `worker_id` in the journal.
    public let workerID: String

    /// The channel `NOTIFY`'d when a run becomes ready for a worker (started, or an
    /// awaited event or cancel request arrived), so idle workers wake at once.
    public static let readyChannel = "baton_runs"

    public init(pool: PostgresPool, workerID: String) {
        self.pool = pool
        self.workerID = workerID
    }

    /// What ``start(_:context:businessKey:)`` found or made.
    public struct Started: Sendable, Hashable {
        public let runID: UUID
        /// False when a run with the same business key already existed: it is returned as is.
        public let created: Bool
    }

    /// Starts a run of `workflow` in its initial state. With a business key, starting
    /// again (even concurrently) returns the run the first start made.
    /// A run whose initial state starts children starts them in the same transaction.
    public func start<W: Workflow>(_ workflow: W.Type, context: W.Context, businessKey: String? = nil) async throws -> Started {
        try await pool.withConnection { connection in
            guard case .children? = W.definition.definition(of: W.definition.initial)?.kind else {
                return try await start(W.self, context: context, businessKey: businessKey, parent: nil, on: connection)
            }
            return try await connection.withTransaction { connection in
                try await start(W.self, context: context, businessKey: businessKey, parent: nil, on: connection)
            }
        }
    }

    /// Starts a run on `connection`, as the child of `parent` if one is given. If its
    /// initial state starts children, they are started too: the caller provides the
    /// transaction that makes it all one.
    func start<W: Workflow>(
        _ workflow: W.Type, context: W.Context, businessKey: String?, parent: UUID?, on connection: PostgresConnection
    ) async throws -> Started {
        let result = try W.definition.transition(from: nil, on: .start)
        let row = RowChange(result.position, context: try Self.encode(context))
        let runID = UUID()
        let inserted = try await connection.query("""
            WITH inserted AS (
                INSERT INTO baton.runs (id, workflow, version, business_key, parent_run_id, state, status, visit, context, seq,
                                        waiting_for, timeout_at, wake_at, finished_at)
                VALUES (\(runID), \(W.name), \(W.version), \(businessKey), \(parent), \(row.state), \(row.status), \(row.visit),
                        \(row.context)::jsonb, \(result.records.count), \(row.waitingFor)::jsonb,
                        baton.current_time() + make_interval(secs => \(row.wakeAfterSeconds)),
                        baton.current_time() + make_interval(secs => \(row.wakeAfterSeconds)),
                        CASE WHEN \(row.isFinal) THEN baton.current_time() END)
                ON CONFLICT (workflow, business_key) DO NOTHING
                RETURNING id
            ), journaled AS (
                INSERT INTO baton.journal (run_id, seq, kind, state_from, state_to, reason, error, payload, worker_id)
                SELECT inserted.id, entry.ordinality, entry.kind, entry.state_from, entry.state_to, entry.reason, entry.error,
                       CASE WHEN entry.kind = 'run-started' THEN \(row.context)::jsonb END, \(workerID)
                FROM inserted, ROWS FROM (jsonb_to_recordset(\(try Self.encode(result.records))::jsonb)
                    AS (kind text, "from" text, "to" text, reason text, error text))
                    WITH ORDINALITY AS entry(kind, state_from, state_to, reason, error, ordinality)
            ), notified AS (
                SELECT pg_notify(\(Self.readyChannel), '') FROM inserted WHERE \(row.status) = 'runnable'
            )
            SELECT id FROM inserted, (SELECT count(*) FROM notified) AS wake
            """)
        if !inserted.isEmpty {
            if case .awaitingChildren = result.position.phase {
                try await startingChildren(W.self, of: runID, in: result.position.state, context: context)(connection)
            }
            return Started(runID: runID, created: true)
        }
        // The key was taken, perhaps by a start that committed after this statement
        // began: a new statement sees it.
        let existing = try await connection.query("""
            SELECT id FROM baton.runs WHERE workflow = \(W.name) AND business_key = \(businessKey)
            """).scalar(UUID.self)
        return Started(runID: existing, created: false)
    }

    /// Takes up to `limit` runs that are ready (an action to run, or a wait whose wake
    /// time has come) and not leased by a live worker, among the given workflow
    /// versions, and leases them to this worker for `lease`.
    public func claim(versions: [(name: String, version: Int)], limit: Int, lease: Duration) async throws -> [StoredRun] {
        try await pool.withConnection { connection in
            try await connection.query("""
                UPDATE baton.runs
                SET lease_owner = \(workerID), lease_expires_at = baton.current_time() + make_interval(secs => \(lease.seconds))
                WHERE id IN (
                    SELECT id FROM baton.runs
                    WHERE (status = 'runnable' OR (status = 'waiting' AND wake_at <= baton.current_time()))
                      AND (lease_expires_at IS NULL OR lease_expires_at < baton.current_time())
                      AND (workflow, version) IN (
                          SELECT name, version FROM jsonb_to_recordset(\(try Self.encode(versions.map(WorkflowVersion.init)))::jsonb)
                              AS registered(name text, version integer))
                    ORDER BY wake_at NULLS FIRST, created_at
                    LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                )
                RETURNING \(unescaped: StoredRun.columns)
                """)
            .map(StoredRun.init(row:))
        }
    }

    /// What a committed transition found on the run.
    public struct Committed: Sendable, Hashable {
        /// Set when someone asked for the run to be cancelled; the next transition cancels it.
        public let cancelReason: String?
    }

    /// Journals a transition and moves the run, if this worker still holds its lease
    /// and its newest journal entry is `expectedSeq`. Returns nil, having written
    /// nothing, when fenced out. `event` is the inbox entry the transition consumes:
    /// it is marked consumed by the same statement, and its payload journaled.
    ///
    /// `writes` run after the transition's statement, in the same transaction: if the
    /// transition is fenced out they don't run, and if a write throws, everything is
    /// rolled back.
    public func commit<W: Workflow>(
        _ result: TransitionResult<W>, of runID: UUID, expectedSeq: Int, context: W.Context,
        consuming event: InboxEvent? = nil, writes: [TransitionWrite] = []
    ) async throws -> Committed? {
        try await pool.withConnection { connection in
            guard !writes.isEmpty else {
                return try await commit(result, of: runID, expectedSeq: expectedSeq, context: context, consuming: event, on: connection)
            }
            do {
                return try await connection.withTransaction { connection in
                    // Fencing first: a worker that lost the run runs none of the writes.
                    guard let committed = try await commit(
                        result, of: runID, expectedSeq: expectedSeq, context: context, consuming: event, on: connection
                    ) else { throw FencedOut() }
                    for write in writes { try await write(connection) }
                    return committed
                }
            } catch is FencedOut {
                return nil
            }
        }
    }

    /// The transition's one statement, on `connection`.
    private func commit<W: Workflow>(
        _ result: TransitionResult<W>, of runID: UUID, expectedSeq: Int, context: W.Context,
        consuming event: InboxEvent?, on connection: PostgresConnection
    ) async throws -> Committed? {
        let finishedWith = result.records.last { $0.kind == .runFinished }?.error
        let row = RowChange(result.position, context: try Self.encode(context), error: finishedWith)
        let written = try await connection.query("""
            WITH moved AS (
                UPDATE baton.runs SET
                    state = \(row.state), status = \(row.status), visit = \(row.visit), context = \(row.context)::jsonb,
                    seq = seq + \(result.records.count), waiting_for = \(row.waitingFor)::jsonb,
                    timeout_at = baton.current_time() + make_interval(secs => \(row.wakeAfterSeconds)),
                    wake_at = baton.current_time() + make_interval(secs => \(row.wakeAfterSeconds)),
                    finished_at = CASE WHEN \(row.isFinal) THEN baton.current_time() END,
                    lease_owner = CASE WHEN \(row.isFinal) THEN NULL ELSE lease_owner END,
                    lease_expires_at = CASE WHEN \(row.isFinal) THEN NULL ELSE lease_expires_at END,
                    error = \(row.error), updated_at = baton.current_time()
                WHERE id = \(runID) AND seq = \(expectedSeq)
                  AND lease_owner = \(workerID) AND lease_expires_at > baton.current_time()
                RETURNING id, cancel_reason, parent_run_id
            ), parent_woken AS (
                -- A child that finishes wakes its parent, which is waiting for it.
                UPDATE baton.runs parent
                SET events_received = parent.events_received + 1, wake_at = baton.current_time()
                FROM moved
                WHERE \(row.isFinal) AND parent.id = moved.parent_run_id AND parent.status = 'waiting'
                RETURNING pg_notify(\(Self.readyChannel), '')
            ), consumed AS (
                UPDATE baton.events SET consumed_seq = \(expectedSeq) + 1
                WHERE id = \(event?.id) AND run_id = \(runID) AND consumed_seq IS NULL AND EXISTS (SELECT 1 FROM moved)
            ), journaled AS (
                INSERT INTO baton.journal (run_id, seq, kind, state_from, state_to, reason, error, payload, worker_id)
                SELECT moved.id, \(expectedSeq) + entry.ordinality, entry.kind, entry.state_from, entry.state_to,
                       entry.reason, entry.error,
                       CASE entry.kind WHEN 'event-received' THEN \(event?.payload)::jsonb
                                       WHEN 'transition' THEN \(row.context)::jsonb END,
                       \(workerID)
                FROM moved, ROWS FROM (jsonb_to_recordset(\(try Self.encode(result.records))::jsonb)
                    AS (kind text, "from" text, "to" text, reason text, error text))
                    WITH ORDINALITY AS entry(kind, state_from, state_to, reason, error, ordinality)
                RETURNING seq
            )
            SELECT (SELECT count(*) FROM journaled), cancel_reason, (SELECT count(*) FROM parent_woken) FROM moved
            """)
        guard let row = written.first, try row.decode(Int.self, at: 0) == result.records.count else { return nil }
        return Committed(cancelReason: try row.decode(String?.self, at: 1))
    }

    /// Gives up this worker's lease on a run that now waits: it sleeps until its
    /// timeout, or wakes at once if an event or a cancel request arrived since the
    /// worker claimed it (both are read from the row, so a concurrent one is seen).
    public func release(_ run: StoredRun, expectedSeq: Int) async throws {
        try await pool.withConnection { connection in
            try await connection.query("""
                UPDATE baton.runs SET lease_owner = NULL, lease_expires_at = NULL,
                    wake_at = CASE WHEN events_received = \(run.eventsReceived) AND cancel_reason IS NULL
                                   THEN timeout_at ELSE baton.current_time() END
                WHERE id = \(run.id) AND seq = \(expectedSeq) AND lease_owner = \(workerID)
                """)
        }
    }

    /// Extends this worker's leases on `runs` by `lease` from now; returns the runs it
    /// still holds (a run missing from the answer was taken over or finished).
    public func renewLeases(_ runs: [UUID], lease: Duration) async throws -> Set<UUID> {
        guard !runs.isEmpty else { return [] }
        return try await pool.withConnection { connection in
            Set(try await connection.query("""
                UPDATE baton.runs SET lease_expires_at = baton.current_time() + make_interval(secs => \(lease.seconds))
                WHERE lease_owner = \(workerID) AND lease_expires_at > baton.current_time()
                  AND id IN (SELECT jsonb_array_elements_text(\(try Self.encode(runs.map(\.uuidString)))::jsonb)::uuid)
                RETURNING id
                """).map { try $0.decode(UUID.self, at: 0) })
        }
    }

    /// The run's row, or nil if there is no such run.
    public func run(_ id: UUID) async throws -> StoredRun? {
        try await pool.withConnection { connection in
            try await connection.query("SELECT \(unescaped: StoredRun.columns) FROM baton.runs WHERE id = \(id)")
                .first.map(StoredRun.init(row:))
        }
    }

    /// The run's journal, oldest first.
    public func journal(of id: UUID) async throws -> [StoredJournalEntry] {
        try await pool.withConnection { connection in
            try await connection.query("""
                SELECT seq, kind, state_from, state_to, reason, error, worker_id, recorded_at, step_name
                FROM baton.journal WHERE run_id = \(id) ORDER BY seq
                """).map { row in
                guard let kind = JournalRecord.Kind(rawValue: try row.decode(String.self, at: 1)) else {
                    throw BatonError(.storedRun, "run \(id) has a journal entry of unknown kind \(try row.decode(String.self, at: 1))")
                }
                return StoredJournalEntry(
                    seq: try row.decode(Int.self, at: 0),
                    record: JournalRecord(
                        kind, from: try row.decode(String?.self, at: 2), to: try row.decode(String?.self, at: 3),
                        reason: try row.decode(String?.self, at: 4), error: try row.decode(String?.self, at: 5),
                        step: try row.decode(String?.self, at: 8)
                    ),
                    workerID: try row.decode(String?.self, at: 6),
                    recordedAt: try row.decode(Date.self, at: 7)
                )
            }
        }
    }

    static func encode<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// A workflow version a worker runs, as the claim query reads it.
private struct WorkflowVersion: Encodable {
    let name: String
    let version: Int

    init(_ pair: (name: String, version: Int)) {
        name = pair.name
        version = pair.version
    }
}

/// The columns of `baton.runs` that a position sets.
private struct RowChange {
    let state: String
    let status: String
    let visit: Int
    let context: String
    /// JSON array text of the awaited events, or nil.
    let waitingFor: String?
    /// Seconds until the run wakes by itself (sleep or timeout), or nil.
    let wakeAfterSeconds: Double?
    let isFinal: Bool
    /// The error a failed or cancelled run ended with.
    let error: String?

    init<W: Workflow>(_ position: RunPosition<W>, context: String, error: String? = nil) {
        self.error = error
        state = position.state.rawValue
        visit = position.visit
        self.context = context
        switch position.phase {
        case .acting:
            status = "runnable"
            (waitingFor, wakeAfterSeconds, isFinal) = (nil, nil, false)
        case .waiting(let events, let timeout):
            status = "waiting"
            waitingFor = try? RunStore.encode(events)
            wakeAfterSeconds = timeout?.seconds
            isFinal = false
        case .sleeping(let duration):
            status = "waiting"
            (waitingFor, wakeAfterSeconds, isFinal) = (nil, duration.seconds, false)
        case .awaitingChildren:
            status = "waiting"
            (waitingFor, wakeAfterSeconds, isFinal) = (nil, nil, false)
        case .finished(let outcome):
            status = outcome.rawValue
            (waitingFor, wakeAfterSeconds, isFinal) = (nil, nil, true)
        }
    }
}

extension Duration {
    /// The duration in seconds, with fractions.
    public var seconds: Double { milliseconds / 1000 }
}
