import Baton
import BatonTesting
import Foundation
import LibPQ

/// Ten-step no-op runs worked off by `processes` real `baton worker` processes, each
/// driving up to ``concurrency`` runs, next to pgbench's transitions at the same total
/// client count; and what the journal stores per transition.
struct WorkerProcessBenchmark {
    struct Figure: Encodable {
        let processes: Int
        let inFlight: Int
        let stepsPerSecond: Double
        let transitionsPerSecond: Double
        /// The journal's size on disk (table, TOAST and index) over the transitions in it.
        let journalBytesPerTransition: Double
        let pgbenchTransactionsPerSecond: Double
        let ratio: Double
    }

    /// Runs each worker process drives at once.
    static let concurrency = 4

    let configuration: PostgresConfiguration
    let baton: URL
    let processes: Int
    let seconds: Int
    let progress: Progress

    func run() async throws -> Figure {
        let admin = try await PostgresConnection.connect(to: configuration)
        defer { Task { await admin.close() } }
        let pool = PostgresPool(configuration: configuration, maxConnections: 8)
        try await TenStepLoad(runs: 1_000 * seconds).prepare(admin, store: RunStore(pool: pool, workerID: "bench"), progress: progress)
        await pool.close()

        progress.say("  \(processes) worker process\(processes == 1 ? "" : "es") working for \(seconds) s …")
        let (before, after) = try await WorkerProcesses.withScratch(baton: baton, environment: ["BATON_DATABASE_URL": configuration.connectionString], concurrency: Self.concurrency) { workers in
            for _ in 0..<processes { try workers.start() }
            // Let them connect and reach their pace before the window opens.
            try await Task.sleep(for: .seconds(1))
            let before = try await EngineCounters.read(admin)
            try await Task.sleep(for: .seconds(seconds))
            return (before, try await EngineCounters.read(admin))
        }

        let elapsed = after.time.timeIntervalSince(before.time)
        let steps = Double(after.steps - before.steps)
        guard steps > 0 else { throw BenchError(message: "\(processes) worker processes completed no step in \(seconds) s") }
        let journal = try await admin.query("""
            SELECT pg_total_relation_size('baton.journal')::float8 / nullif(count(*) FILTER (WHERE kind = 'transition'), 0)
            FROM baton.journal
            """).scalar(Double.self)
        let inFlight = processes * Self.concurrency
        let raw = try await Pgbench.transitions(admin, clients: inFlight, seconds: seconds, configuration: configuration).transactionsPerSecond
        return Figure(
            processes: processes, inFlight: inFlight, stepsPerSecond: steps / elapsed,
            transitionsPerSecond: Double(after.transitions - before.transitions) / elapsed,
            journalBytesPerTransition: journal, pgbenchTransactionsPerSecond: raw, ratio: steps / elapsed / raw
        )
    }
}
