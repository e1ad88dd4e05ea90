import Foundation
import LibPQ

/// Runs, their journal and their leases in PostgreSQL: every write a transition
/// makes goes through here, each in one statement (one round trip, one transaction,
/// shared by the transitions of several runs when they commit at the same moment).
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

    /// The largest context, event data or step output accepted, in bytes of JSON:
    /// larger ones are refused before they reach the journal.
    public let maxPayloadBytes: Int
    /// ``maxPayloadBytes`` unless told otherwise: 1 MiB.
    public static let defaultMaxPayloadBytes = 1 << 20
    /// Share commits among this worker's runs, one batch at a time in each lane; see
    /// ``GroupCommit`` and ``bound(to:lane:)``.
    private let lanes: [GroupCommit]
    /// The lane this store's transitions commit in.
    private let lane: Int
    /// The connection every statement runs on, if this store is bound to one.
    private let connection: PostgresConnection?

    public init(pool: PostgresPool, workerID: String, maxPayloadBytes: Int = RunStore.defaultMaxPayloadBytes) {
        self.pool = pool
        self.workerID = workerID
        self.maxPayloadBytes = maxPayloadBytes
        lanes = (0..<Self.commitLanes).map { _ in GroupCommit() }
        lane = 0
        connection = nil
    }

    private init(_ store: RunStore, boundTo connection: PostgresConnection, lane: Int) {
        pool = store.pool
        workerID = store.workerID
        maxPayloadBytes = store.maxPayloadBytes
        lanes = store.lanes
        self.lane = lane
        self.connection = connection
    }

    /// How many lanes of shared commits a store has (``bound(to:lane:)``).
    public static let commitLanes = 2

    /// This store with every statement on `connection` (one the caller holds, from
    /// ``PostgresPool/withConnection(_:)``), for code that runs on that connection's
    /// thread: no pool checkout and no thread switch per statement. A worker drives
    /// each run this way.
    ///
    /// Its transitions share commits with those of the other runs that commit in the
    /// same `lane` (below ``commitLanes``): one batch at a time per lane, so while one
    /// lane's commit waits for its WAL flush, the other lane's runs act and send theirs.
    public func bound(to connection: PostgresConnection, lane: Int = 0) -> RunStore {
        precondition(lanes.indices.contains(lane), "a store has \(Self.commitLanes) commit lanes")
        return RunStore(self, boundTo: connection, lane: lane)
    }

    /// Throws if `json`, `what` (a context, an event's data, a step's output), is
    /// larger than ``maxPayloadBytes``. (`what` is spelled only then: a context and a
    /// step's output are checked at every step.)
    public func checkSize(of json: String, _ what: @autoclosure () -> String) throws {
        let bytes = json.utf8.count
        guard bytes <= maxPayloadBytes else {
            throw BatonError(.invalidRequest, "\(what()) is \(bytes) bytes of JSON, over the limit of \(maxPayloadBytes)")
        }
    }

    /// Whether this store is bound to a connection (``bound(to:)``), so its code runs on
    /// that connection's own thread.
    var isBound: Bool { connection != nil }

    /// The executor of the bound connection's thread (nil when not bound): a task that
    /// prefers it runs this store's statements without a thread switch.
    var taskExecutor: (any TaskExecutor)? { connection?.taskExecutor }

    /// Runs `body` on the bound connection, or on one from the pool.
    @discardableResult
    nonisolated(nonsending) func withConnection<Result>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        if let connection { return try await body(connection) }
        return try await pool.withConnection(body)
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
        try await withConnection { connection in
            guard case .children? = W.builtDefinition.definition(of: W.builtDefinition.initial)?.kind else {
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
        let result = try W.builtDefinition.transition(from: nil, on: .start)
        let encodedContext = try Self.encode(context)
        try checkSize(of: encodedContext, "the context")
        let row = RowChange(
            result.position, context: encodedContext,
            sleepsUntil: W.builtDefinition.sleepEnd(entering: result.position, context: context)
        )
        let runID = UUID()
        let inserted = try await connection.query("""
            WITH inserted AS (
                INSERT INTO baton.runs (id, workflow, version, business_key, parent_run_id, state, status, visit, context, seq,
                                        waiting_for, timeout_at, wake_at, finished_at)
                VALUES (\(runID), \(W.name), \(W.version), \(businessKey), \(parent), \(row.state), \(row.status), \(row.visit),
                        \(row.context)::jsonb, \(result.records.count), \(row.waitingFor)::jsonb,
                        coalesce(to_timestamp(\(row.wakeAtEpochSeconds)), baton.current_time() + make_interval(secs => \(row.wakeAfterSeconds))),
                        CASE WHEN \(row.status) = 'runnable' THEN baton.current_time()
                             ELSE coalesce(to_timestamp(\(row.wakeAtEpochSeconds)),
                                           baton.current_time() + make_interval(secs => \(row.wakeAfterSeconds))) END,
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
            """, prepared: true)
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

    /// Takes up to `limit` runs that are due (an action to run, or a wait whose wake
    /// time has come), oldest first, and not leased by a live worker, among the given
    /// workflow versions, and leases them to this worker for `lease`. One range scan
    /// of the `runs_due` index, however many runs wait for events.
    public func claim(versions: [(name: String, version: Int)], limit: Int, lease: Duration) async throws -> [StoredRun] {
        let registered = Self.json(versions)
        return try await withConnection { connection in
            // The limit goes in as a constant, a power of two at a time: with a bound
            // limit the planner's generic plan sorts every due run, so each claim was
            // planned anew (0.3 ms); a handful of prepared statements covers any limit.
            //
            // The claim commits without waiting for its WAL flush (`synchronous_commit`
            // off for its own transaction only): others see the lease at once, and only a
            // crash of the database itself could lose it, which ends this worker's
            // connections too, so it writes nothing under the lost lease. The run's first
            // write then waits for a flush that covers the claim as well.
            var claimed: [StoredRun] = []
            for chunk in Self.powersOfTwo(summingTo: min(limit, 127)) {
                let runs = try await connection.query("""
                    WITH unflushed AS (SELECT set_config('synchronous_commit', 'off', true) AS setting)
                    UPDATE baton.runs
                    SET lease_owner = \(workerID), lease_expires_at = baton.current_time() + make_interval(secs => \(lease.seconds))
                    WHERE (SELECT setting FROM unflushed) = 'off' AND id IN (
                        SELECT id FROM baton.runs
                        WHERE wake_at <= baton.current_time()
                          AND (lease_expires_at IS NULL OR lease_expires_at < baton.current_time())
                          AND (workflow, version) IN (
                              SELECT name, version FROM jsonb_to_recordset(\(registered)::jsonb) AS registered(name text, version integer))
                        ORDER BY wake_at
                        LIMIT \(unescaped: String(chunk))
                        FOR UPDATE SKIP LOCKED
                    )
                    RETURNING \(unescaped: StoredRun.columns)
                    """, prepared: true)
                    .map(StoredRun.init(row:))
                claimed += runs
                guard runs.count == chunk else { break }
            }
            return claimed
        }
    }

    /// The workflow versions a claim takes runs of, as the JSON array its query reads.
    /// Written by hand: `JSONEncoder` at every claim took 1.7% of a worker's CPU with 4
    /// runs in flight.
    private static func json(_ versions: [(name: String, version: Int)]) -> JSONWriter {
        var writer = JSONWriter()
        writer.array(versions) { writer, version in
            writer.object { object in
                object.field("name", version.name)
                object.field("version", version.version)
            }
        }
        return writer
    }

    /// `total` as a sum of distinct powers of two, largest first: 11 is 8, 2, 1.
    static func powersOfTwo(summingTo total: Int) -> [Int] {
        (0..<Int.bitWidth).reversed().map { 1 << $0 }.filter { total & $0 != 0 }
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
    /// rolled back. A transition without writes shares its commit with the
    /// transitions other runs of this worker commit at the same moment.
    public func commit<W: Workflow>(
        _ result: TransitionResult<W>, of runID: UUID, expectedSeq: Int, context: W.Context,
        consuming event: InboxEvent? = nil, writes: [TransitionWrite] = []
    ) async throws -> Committed? {
        let move = RunMove(
            result, of: runID, expectedSeq: expectedSeq, context: try Self.encode(context),
            sleepsUntil: W.builtDefinition.sleepEnd(entering: result.position, context: context), consuming: event, after: []
        )
        return try await commit(move, writes: writes)
    }

    /// Applies `move`, then `writes` in the same transaction; see ``commit(_:of:expectedSeq:context:consuming:writes:)``.
    func commit(_ move: RunMove, writes: [TransitionWrite]) async throws -> Committed? {
        guard !writes.isEmpty else { return try await lanes[lane].commit(move, by: self) }
        return try await withConnection { connection in
            do {
                return try await connection.withTransaction { connection in
                    // Fencing first: a worker that lost the run runs none of the writes.
                    guard let committed = try await Self.apply([move], as: workerID, on: connection)[move.runID] else {
                        throw FencedOut()
                    }
                    for write in writes { try await write(connection) }
                    return committed
                }
            } catch is FencedOut {
                return nil
            }
        }
    }

    /// Applies the moves of several runs in one statement, each fenced on its own:
    /// what each moved run's row said, by run id. A run missing from the answer was
    /// fenced out, and nothing of its move was written.
    ///
    /// Besides the run rows and the journal (where completed steps' outputs are kept:
    /// `baton.step_outputs` is a view of them), the statement marks consumed inbox
    /// events and wakes the waiting parent of a child that finished. A lone move that
    /// needs neither goes in a leaner statement (``loneMoveStatement(_:as:)``).
    static func apply(_ moves: [RunMove], as workerID: String, on connection: PostgresConnection) async throws -> [UUID: Committed] {
        let statement = goesAlone(moves) ? loneMoveStatement(moves[0], as: workerID) : batchStatement(moves, as: workerID)
        var committed: [UUID: Committed] = [:]
        for row in try await connection.query(statement, prepared: true) {
            committed[try row.decode(UUID.self, at: 0)] = Committed(cancelReason: try row.decode(String?.self, at: 1))
        }
        return committed
    }

    /// The statement ``apply(_:as:on:)`` applies several moves with (or one that ends its
    /// run or consumes an event): the batch as one JSON array, unpacked by the server.
    private static func batchStatement(_ moves: [RunMove], as workerID: String) -> PostgresQuery {
        let consumes = moves.contains { move in move.entries.contains { $0.eventID != nil } }
        let wakesParents = moves.contains(where: \.wakesParent)
        let sql = switch (consumes, wakesParents) {
        case (false, false): batch
        case (true, false): batchConsuming
        case (false, true): batchWakingParents
        case (true, true): batchConsumingAndWakingParents
        }
        return PostgresQuery(
            unsafeSQL: sql, binds: [RunMove.json(moves).postgresBind, workerID.postgresBind]
        )
    }

    // The batch statement's four texts, made once: `$1` is the moves as
    // ``RunMove/json(_:)`` writes them, `$2` the worker. (Built at every batch, its 3 KB
    // took 5% of a worker's CPU with 4 runs in flight.) Only batches that consume an
    // event or end a child run carry the inbox and parent updates: with them a batch
    // took a quarter longer in the server (`pg_stat_statements` with 4 runs in flight:
    // 156-191 µs a batch against 117-139 without).
    private static let batch = batchStart + end
    private static let batchConsuming = batchStart + consumingEvents + end
    private static let batchWakingParents = batchStart + wakingParents + endWakingParents
    private static let batchConsumingAndWakingParents = batchStart + consumingEvents + wakingParents + endWakingParents

    /// The run and journal writes of the batch statement.
    private static let batchStart = """
        WITH batch AS (
            SELECT * FROM jsonb_to_recordset($1::jsonb) AS b(
                run_id uuid, expected_seq bigint, state text, status text, visit integer, context jsonb,
                waiting_for jsonb, wake_after double precision, wake_at double precision, is_final boolean, keeps_timers boolean, error text,
                last_entry_is_step boolean, entries jsonb)
        ), moved AS (
            UPDATE baton.runs r SET
                state = b.state, status = b.status, visit = b.visit, context = b.context,
                seq = b.expected_seq + jsonb_array_length(b.entries), waiting_for = b.waiting_for,
                timeout_at = CASE WHEN b.keeps_timers THEN r.timeout_at
                                  ELSE coalesce(to_timestamp(b.wake_at), baton.current_time() + make_interval(secs => b.wake_after)) END,
                -- A run that stays runnable keeps its wake_at: no indexed column changes,
                -- so a step's update can be a HOT update.
                wake_at = CASE WHEN b.keeps_timers THEN r.wake_at
                               WHEN b.status = 'runnable' THEN least(r.wake_at, baton.current_time())
                               ELSE coalesce(to_timestamp(b.wake_at), baton.current_time() + make_interval(secs => b.wake_after)) END,
                finished_at = CASE WHEN b.is_final THEN baton.current_time() END,
                lease_owner = CASE WHEN b.is_final THEN NULL ELSE r.lease_owner END,
                lease_expires_at = CASE WHEN b.is_final THEN NULL ELSE r.lease_expires_at END,
                error = b.error, updated_at = baton.current_time(),
                drive_failures = 0, last_drive_error = NULL,
                last_entry_is_step = b.last_entry_is_step
            FROM batch b
            -- The id list makes the plan a primary key lookup whatever the statistics say.
            WHERE r.id = ANY (ARRAY(SELECT run_id FROM batch)) AND r.id = b.run_id AND r.seq = b.expected_seq
              AND r.lease_owner = $2 AND r.lease_expires_at > baton.current_time()
            RETURNING r.id, r.cancel_reason, r.parent_run_id, b.is_final, b.expected_seq, b.context, b.entries
        ), entry AS (
            SELECT moved.id AS run_id, moved.expected_seq + e.ordinality AS seq, moved.context, e.*
            FROM moved, ROWS FROM (jsonb_to_recordset(moved.entries) AS (
                kind text, state_from text, state_to text, reason text, error text, step text, visit integer,
                attempt integer, duration_ms double precision, payload jsonb, event_id bigint,
                model text, tokens_in integer, tokens_out integer, cost_usd numeric)) WITH ORDINALITY AS e
        ), journaled AS (
            INSERT INTO baton.journal (run_id, seq, kind, state_from, state_to, reason, error, step_name, visit, attempt,
                                       duration_ms, payload, worker_id, model, tokens_in, tokens_out, cost_usd)
            SELECT run_id, seq, kind, state_from, state_to, reason, error, step, visit, attempt, duration_ms,
                   CASE WHEN kind = 'transition' THEN context ELSE payload END, $2, model, tokens_in, tokens_out, cost_usd
            FROM entry
        """

    /// The part of the batch statement that marks the inbox events its moves consume.
    private static let consumingEvents = """
        ), consumed AS (
            UPDATE baton.events SET consumed_seq = entry.seq
            FROM entry
            WHERE entry.event_id IS NOT NULL AND events.id = entry.event_id AND events.run_id = entry.run_id
              AND events.consumed_seq IS NULL

        """

    /// The part of the batch statement that wakes the waiting parents of child runs that ended.
    private static let wakingParents = """
        ), parent_woken AS (
            -- A child that finishes wakes its parent, which is waiting for it. (A parent
            -- moving in this very statement is awake already, and a row is updated once.)
            UPDATE baton.runs parent
            SET events_received = parent.events_received + 1, wake_at = baton.current_time()
            FROM moved
            WHERE moved.is_final AND parent.id = moved.parent_run_id AND parent.status = 'waiting'
              AND parent.id NOT IN (SELECT id FROM moved)
            RETURNING pg_notify('\(readyChannel)', '')

        """

    /// The end of the batch statement.
    private static let end = """
        )
        SELECT id, cancel_reason FROM moved
        """

    /// The end of the batch statement that wakes parents (which it counts, so the
    /// notifications are sent).
    private static let endWakingParents = """
        )
        SELECT id, cancel_reason FROM moved, (SELECT count(*) FROM parent_woken) AS woken
        """

    /// Gives up this worker's lease on a run that now waits: it sleeps until its
    /// timeout, or wakes at once if an event or a cancel request arrived since the
    /// worker claimed it (both are read from the row, so a concurrent one is seen).
    public func release(_ run: StoredRun, expectedSeq: Int) async throws {
        try await withConnection { connection in
            try await connection.query("""
                UPDATE baton.runs SET lease_owner = NULL, lease_expires_at = NULL,
                    wake_at = CASE WHEN events_received = \(run.eventsReceived) AND cancel_reason IS NULL
                                   THEN timeout_at ELSE baton.current_time() END
                WHERE id = \(run.id) AND seq = \(expectedSeq) AND lease_owner = \(workerID)
                """, prepared: true)
        }
    }

    /// Gives up this worker's leases on `runs` at once, whatever their drivers are doing:
    /// each becomes due now, and idle workers are notified, so another worker takes it
    /// over from its journal without waiting for the lease to expire. This worker's
    /// writes to them are refused from then on (they are fenced on the lease owner).
    /// Returns how many leases were given up.
    @discardableResult
    public func giveUpLeases(on runs: [UUID]) async throws -> Int {
        guard !runs.isEmpty else { return 0 }
        return try await withConnection { connection in
            try await connection.query("""
                WITH given_up AS (
                    UPDATE baton.runs SET lease_owner = NULL, lease_expires_at = NULL, wake_at = baton.current_time()
                    WHERE lease_owner = \(workerID)
                      AND id IN (SELECT jsonb_array_elements_text(\(try Self.encode(runs.map(\.uuidString)))::jsonb)::uuid)
                    RETURNING id
                ), notified AS (
                    -- Read below: a CTE that only selects runs only if something reads it.
                    SELECT pg_notify(\(Self.readyChannel), '') FROM (SELECT 1 FROM given_up LIMIT 1) any_given_up
                )
                SELECT (SELECT count(*) FROM given_up), (SELECT count(*) FROM notified)
                """).first?.decode(Int.self, at: 0) ?? 0
        }
    }

    /// Gives back a run this worker failed to drive (`error`): the lease is released and
    /// the run becomes due again after 2^failures seconds (at most 300), its failure
    /// count and error kept on the row for operators. Nothing happens if the lease was
    /// lost meanwhile. Returns the failures counted so far, or nil.
    @discardableResult
    public func postpone(_ runID: UUID, after error: String) async throws -> Int? {
        try await withConnection { connection in
            try await connection.query("""
                UPDATE baton.runs SET lease_owner = NULL, lease_expires_at = NULL,
                    drive_failures = drive_failures + 1, last_drive_error = \(error),
                    wake_at = baton.current_time() + make_interval(secs => least(300, power(2, drive_failures + 1)))
                WHERE id = \(runID) AND lease_owner = \(workerID) AND status IN ('runnable', 'waiting')
                RETURNING drive_failures
                """).first?.decode(Int.self, at: 0)
        }
    }

    /// Extends this worker's leases on `runs` by `lease` from now; returns the runs it
    /// still holds (a run missing from the answer was taken over or finished).
    ///
    /// It never waits for one run's row while holding another's, so it cannot deadlock
    /// with a batch of moves that locks the same rows in another order (which stalled a
    /// worker for the server's `deadlock_timeout`, a second, and failed the heartbeat or
    /// the batch). One statement renews the leases whose rows are free; each row a
    /// statement holds (a move of this worker, as a rule) is renewed on its own, in a
    /// transaction of its own, once that statement commits.
    public func renewLeases(_ runs: [UUID], lease: Duration) async throws -> Set<UUID> {
        guard !runs.isEmpty else { return [] }
        let seconds = lease.seconds
        let asked = try Self.encode(runs.map(\.uuidString))
        return try await withConnection { connection in
            var kept: Set<UUID> = []
            var busy: [UUID] = []
            for row in try await connection.query("""
                WITH asked AS (
                    SELECT jsonb_array_elements_text(\(asked)::jsonb)::uuid AS id
                ), renewed AS (
                    UPDATE baton.runs SET lease_expires_at = baton.current_time() + make_interval(secs => \(seconds))
                    WHERE id IN (
                        SELECT r.id FROM baton.runs r JOIN asked USING (id)
                        WHERE r.lease_owner = \(workerID) AND r.lease_expires_at > baton.current_time()
                        FOR UPDATE OF r SKIP LOCKED)
                    RETURNING id
                )
                SELECT id, true FROM renewed
                UNION ALL
                SELECT r.id, false FROM baton.runs r JOIN asked USING (id)
                WHERE r.lease_owner = \(workerID) AND r.lease_expires_at > baton.current_time()
                  AND r.id NOT IN (SELECT id FROM renewed)
                """) {
                let id = try row.decode(UUID.self, at: 0)
                if try row.decode(Bool.self, at: 1) { kept.insert(id) } else { busy.append(id) }
            }
            for id in busy {
                let renewed = try await connection.query("""
                    UPDATE baton.runs SET lease_expires_at = baton.current_time() + make_interval(secs => \(seconds))
                    WHERE id = \(id) AND lease_owner = \(workerID) AND lease_expires_at > baton.current_time()
                    RETURNING id
                    """)
                if !renewed.isEmpty { kept.insert(id) }
            }
            return kept
        }
    }

    /// The run's row, or nil if there is no such run.
    public func run(_ id: UUID) async throws -> StoredRun? {
        try await withConnection { connection in
            try await connection.query("SELECT \(unescaped: StoredRun.columns) FROM baton.runs WHERE id = \(id)")
                .first.map(StoredRun.init(row:))
        }
    }

    /// The run's journal, oldest first.
    public func journal(of id: UUID) async throws -> [StoredJournalEntry] {
        try await withConnection { connection in
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

    /// `value` as JSON text, its object keys sorted (see ``SortedJSONEncoder``).
    static func encode<Value: Encodable>(_ value: Value) throws -> String {
        try SortedJSONEncoder.encode(value)
    }
}

extension Duration {
    /// The duration in seconds, with fractions.
    public var seconds: Double { milliseconds / 1000 }
}
