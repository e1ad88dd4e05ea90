import Baton
import BatonExamples
import BatonTesting
import Foundation
import LibPQ
import Synchronization

/// Runs a mixed load on real `baton worker` processes over a private PostgreSQL, injects
/// faults at random moments (workers killed and paused past their leases, the database
/// restarted at once, worker connections terminated), lets the runs finish, and checks
/// that nothing was lost, run twice or left half-written. `ops/chaos` and a test run it.
public struct ChaosHarness: Sendable {
    public let profile: ChaosProfile
    /// The `baton` executable the workers run.
    public let baton: URL
    /// Where the private cluster, the worker logs and the step log go.
    public let folder: URL
    /// Progress for a person, a line at a time.
    public let say: @Sendable (String) -> Void

    public init(profile: ChaosProfile, baton: URL, folder: URL, say: @escaping @Sendable (String) -> Void) {
        self.profile = profile
        self.baton = baton
        self.folder = folder
        self.say = say
    }

    /// The application name worker connections carry, so faults can find them.
    static let workerApplication = "chaos-worker"

    public func run() async throws -> ChaosReport {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = try EmbeddedDatabase(directory: folder.appending(path: "postgres"))
        say("Starting a private PostgreSQL in \(database.directory.path) …")
        try await database.start()
        defer { try? database.stop() }
        let configuration = try database.configuration
        let setup = try await PostgresConnection.connect(to: configuration)
        try await Migrator(migrations: try Migration.bundled()).migrate(setup)
        try await setup.runScript("CREATE TABLE IF NOT EXISTS example_ledger (run_id uuid NOT NULL, state text NOT NULL)")
        await setup.close()

        let pool = PostgresPool(configuration: configuration, maxConnections: 4)
        defer { Task { await pool.close() } }
        let store = RunStore(pool: pool, workerID: "chaos-harness")
        let stepLog = folder.appending(path: "steps.log").path
        // 2 s leases, so paused and killed workers' runs are taken over soon. Every other
        // worker drives 4 runs at once, so its runs commit in two lanes (8: in one).
        let workers = WorkerProcesses(
            baton: baton, folder: folder,
            environment: ["BATON_DATABASE_URL": database.url + "&application_name=\(Self.workerApplication)", "BATON_STEP_LOG": stepLog],
            concurrency: [8, 4], leaseSeconds: 2
        )
        for _ in 0..<profile.workers { try workers.start() }
        let tally = EventTally()
        let answering = Task { await answer(store, tally: tally) }
        let loading = Task { await startLoad(store) }

        say("Injecting faults for \(profile.faultSeconds) s …")
        let injected = try await injectFaults(into: workers, database: database, pool: pool)

        let load = await loading.value
        say("Started \(load.tenStepRuns) ten-step runs and \(load.orders) orders while injecting \(injected.values.reduce(0, +)) faults.")
        say("Letting the runs finish (at most \(profile.settleSeconds) s) …")
        let settleBy = ContinuousClock.now + .seconds(profile.settleSeconds)
        while ContinuousClock.now < settleBy, (await retrying { try await Self.unfinished(store) }) ?? 1 > 0 {
            try await Task.sleep(for: .milliseconds(250))
        }
        answering.cancel()
        await answering.value
        let unclean = await workers.stopAll()

        say("Checking …")
        var report = ChaosReport()
        try await check(store, tally: tally, stepLog: stepLog, workers: workers, into: &report)
        report.add("workers that did not stop cleanly on SIGTERM", unclean, mustBeZero: true)
        report.add("worker processes started", workers.started)
        for kind in FaultKind.allCases { report.add("faults: \(kind.rawValue)", injected[kind, default: 0]) }
        return report
    }

    // MARK: - Load

    /// The runs started.
    struct Load {
        var tenStepRuns = 0
        var orders = 0
    }

    /// Starts the runs, spread over the fault window so the faults land on work: ten-step
    /// runs with quick and slow steps and a business write per transition; orders of
    /// which most need replanning and half need a person's approval. Each has a business
    /// key, so a start retried after a fault that ate its answer starts nothing twice.
    private func startLoad(_ store: RunStore) async -> Load {
        var load = Load()
        let total = profile.tenStepRuns + profile.orders
        let every = Duration.milliseconds(profile.faultSeconds * 1000) / max(1, total)
        let clock = ContinuousClock()
        let beginning = clock.now
        for index in 0..<total {
            try? await clock.sleep(until: beginning + every * index)
            if index % (total / max(1, profile.orders)) == 0, load.orders < profile.orders {
                let number = load.orders
                // An odd last digit is out of stock (replanned); 50 units cost 2,000, over the approval threshold.
                // Every order's delay note is classified by a model (the rule-based one): a journaled model call.
                let order = OrderDelay.Context(
                    orderID: "CH-\(number * 2 + (number % 5 == 0 ? 0 : 1))", quantity: number.isMultiple(of: 2) ? 50 : 5,
                    delayNote: ["a storm closed the port", "dockers on strike", "customs inspection"][number % 3]
                )
                if await retrying({ try await store.start(OrderDelay.self, context: order, businessKey: "chaos-order-\(number)") }) != nil {
                    load.orders += 1
                }
            } else if load.tenStepRuns < profile.tenStepRuns {
                let context = TenSteps.Context(stepMilliseconds: [0, 2, 15, 40][index % 4], ledger: true)
                if await retrying({ try await store.start(TenSteps.self, context: context, businessKey: "chaos-ten-\(load.tenStepRuns)") }) != nil {
                    load.tenStepRuns += 1
                }
            }
        }
        return load
    }

    /// Plays the people and carriers until cancelled: approves pending approvals and
    /// confirms a carrier for each order waiting for one, retrying through faults.
    private func answer(_ store: RunStore, tally: EventTally) async {
        let desk = ApprovalDesk(store: store, registry: (try? Examples.registry()) ?? WorkflowRegistry())
        while !Task.isCancelled {
            for approval in await retrying({ try await desk.approvals(status: "pending") }) ?? [] {
                _ = try? await desk.approve(approval.id, as: "alice", comment: "chaos says yes")
            }
            let waiting = await retrying {
                try await store.pool.withConnection { connection in
                    try await connection.query("""
                        SELECT id FROM baton.runs r WHERE workflow = 'order-delay' AND status = 'waiting' AND state = 'awaitCarrier'
                          AND NOT EXISTS (SELECT 1 FROM baton.events e WHERE e.run_id = r.id AND e.consumed_seq IS NULL)
                        """).map { try $0.decode(UUID.self, at: 0) }
                }
            } ?? []
            for run in waiting {
                do {
                    try await store.send("carrier-confirmed", to: run, payload: #"{"carrier": "Maersk"}"#)
                    tally.acknowledged(run)
                } catch {
                    tally.failed()
                }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    // MARK: - Faults

    private func injectFaults(into workers: WorkerProcesses, database: EmbeddedDatabase, pool: PostgresPool) async throws -> [FaultKind: Int] {
        var injected: [FaultKind: Int] = [:]
        var cycle: [FaultKind] = []
        var pauses: [Task<Void, Never>] = []
        let until = ContinuousClock.now + .seconds(profile.faultSeconds)
        while ContinuousClock.now < until {
            let gap = Int.random(in: profile.maxFaultGapMilliseconds / 5...profile.maxFaultGapMilliseconds)
            try await Task.sleep(for: .milliseconds(gap))
            // Every kind in turn, in a new random order each round.
            if cycle.isEmpty { cycle = FaultKind.allCases.shuffled() }
            let kind = cycle.removeLast()
            switch kind {
            case .killWorker:
                try workers.killOne()
            case .restartDatabase:
                try database.restartImmediately()
            case .terminateConnections:
                _ = await retrying {
                    try await pool.withConnection { connection in
                        try await connection.query("""
                            SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = \(Self.workerApplication)
                            """).count
                    }
                }
            case .pauseWorker:
                guard let paused = workers.pauseOne() else { continue }
                // Past the 2 s lease, so another worker takes its runs over meanwhile.
                pauses.append(Task {
                    try? await Task.sleep(for: .seconds(3))
                    kill(paused, SIGCONT)
                })
            }
            injected[kind, default: 0] += 1
        }
        for pause in pauses { await pause.value }
        return injected
    }

    // MARK: - Checks

    private func check(_ store: RunStore, tally: EventTally, stepLog: String, workers: WorkerProcesses, into report: inout ChaosReport) async throws {
        try await store.pool.withConnection { connection in
            let runs = try await connection.query("""
                SELECT count(*) FILTER (WHERE parent_run_id IS NULL), count(*) FILTER (WHERE parent_run_id IS NOT NULL),
                       count(*) FILTER (WHERE status NOT IN ('runnable', 'waiting')),
                       count(*) FILTER (WHERE status IN ('runnable', 'waiting')),
                       count(*) FILTER (WHERE status IN ('failed', 'cancelled'))
                FROM baton.runs
                """)[0]
            report.add("runs started (not counting children)", try runs.decode(Int.self, at: 0))
            report.add("child runs started", try runs.decode(Int.self, at: 1))
            report.add("runs completed", try runs.decode(Int.self, at: 2))
            report.add("runs lost (unfinished at the end)", try runs.decode(Int.self, at: 3), mustBeZero: true)
            report.add("runs that failed or were cancelled", try runs.decode(Int.self, at: 4), mustBeZero: true)

            let executions = (try? String(contentsOfFile: stepLog, encoding: .utf8)) ?? ""
            let rerun = try await connection.query("""
                SELECT count(*) FROM jsonb_to_recordset(\(try Self.encodedExecutions(executions))::jsonb) AS e(key text, micros bigint)
                JOIN baton.step_outputs o ON e.key = lower(o.run_id::text) || ':' || o.visit || ':' || o.step_name
                WHERE to_timestamp(e.micros / 1e6) > o.completed_at
                """).scalar(Int.self)
            report.add("step executions", executions.split(separator: "\n").count)
            report.add("completed steps executed again", rerun, mustBeZero: true)

            let events = try await connection.query("""
                SELECT run_id, count(*), count(consumed_seq) FROM baton.events WHERE name = 'carrier-confirmed' GROUP BY run_id
                """)
            var stored: [UUID: Int] = [:]
            var consumed = 0
            for row in events {
                stored[try row.decode(UUID.self, at: 0)] = try row.decode(Int.self, at: 1)
                consumed += try row.decode(Int.self, at: 2)
            }
            let acknowledged = tally.counts
            report.add("events sent and acknowledged", acknowledged.values.reduce(0, +))
            report.add("events consumed", consumed)
            report.add("events lost (acknowledged, not stored)", acknowledged.reduce(0) { $0 + max(0, $1.value - stored[$1.key, default: 0]) }, mustBeZero: true)
            report.add("events stored, never consumed, beyond failed sends",
                       max(0, stored.values.reduce(0, +) - consumed - tally.failures), mustBeZero: true)

            let approvals = try await connection.query("""
                SELECT count(*), count(*) FILTER (WHERE status = 'approved'), count(*) FILTER (WHERE status = 'pending')
                FROM baton.approvals WHERE decision = 'require-approval'
                """)[0]
            report.add("approvals requested", try approvals.decode(Int.self, at: 0))
            report.add("approvals decided (approved)", try approvals.decode(Int.self, at: 1))
            report.add("approvals left pending", try approvals.decode(Int.self, at: 2), mustBeZero: true)

            let models = try await connection.query("""
                SELECT count(*), count(*) FILTER (WHERE r.context ->> 'delayCause' IS NULL)
                FROM baton.runs r WHERE r.workflow = 'order-delay' AND r.parent_run_id IS NULL
                """)[0]
            report.add("orders whose delay note no model classified", try models.decode(Int.self, at: 1), mustBeZero: true)
            let calls = try await connection.query("SELECT count(*) FROM baton.journal WHERE kind = 'step-completed' AND model IS NOT NULL").scalar(Int.self)
            report.add("model calls journaled", calls)

            let ledger = try await connection.query("""
                SELECT count(*) FROM (
                    SELECT t.run_id, t.state_from AS state, count(*) FROM baton.journal t JOIN baton.runs r ON r.id = t.run_id
                    WHERE t.kind = 'transition' AND r.workflow = 'ten-steps' GROUP BY 1, 2
                ) transitions
                FULL JOIN (SELECT run_id, state, count(*) FROM example_ledger GROUP BY 1, 2) ledger USING (run_id, state)
                WHERE transitions.count IS DISTINCT FROM ledger.count OR ledger.count <> 1
                """).scalar(Int.self)
            report.add("business rows without their transition, or the reverse", ledger, mustBeZero: true)
        }
        report.add("verify mismatches", try await store.verify().mismatches.count, mustBeZero: true)
        report.add("fencing refusals observed (workers' logs)", workers.logLines(containing: "fenced out"))
    }

    /// Runs waiting or runnable.
    static func unfinished(_ store: RunStore) async throws -> Int {
        try await store.pool.withConnection { connection in
            try await connection.query("SELECT count(*) FROM baton.runs WHERE status IN ('runnable', 'waiting')").scalar(Int.self)
        }
    }

    /// The step log (`key<TAB>microseconds` lines) as a JSON array for the check query.
    static func encodedExecutions(_ log: String) throws -> String {
        struct Execution: Encodable {
            let key: String
            let micros: Int64
        }
        let executions = log.split(separator: "\n").compactMap { line -> Execution? in
            let fields = line.split(separator: "\t")
            guard fields.count == 2, let micros = Int64(fields[1]) else { return nil }
            return Execution(key: String(fields[0]), micros: micros)
        }
        return String(decoding: try JSONEncoder().encode(executions), as: UTF8.self)
    }

    /// `body`'s result, retried every 200 ms for up to 30 s while the database is away;
    /// nil if it never succeeded.
    private func retrying<Value>(_ body: () async throws -> Value) async -> Value? {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let value = try? await body() { return value }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }
}

/// The carrier events the harness was told were stored, by run, and the sends that failed.
final class EventTally: Sendable {
    private let state = Mutex<(counts: [UUID: Int], failures: Int)>(([:], 0))

    func acknowledged(_ run: UUID) { state.withLock { $0.counts[run, default: 0] += 1 } }
    func failed() { state.withLock { $0.failures += 1 } }
    var counts: [UUID: Int] { state.withLock { $0.counts } }
    var failures: Int { state.withLock { $0.failures } }
}
