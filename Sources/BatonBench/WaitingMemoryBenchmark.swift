import Baton
import BatonExamples
import BatonTesting
import Foundation
import LibPQ

/// A worker's resident memory after working off ten-step runs, then again after the
/// same work with 100,000 more runs waiting on events in the database: a waiting run
/// holds no worker, thread or memory, so the two should match.
///
/// The waiting runs are parked by SQL (in `order-delay`'s `awaitCarrier`, 30 days
/// from their timeout) rather than driven there, which would take the benchmark
/// minutes and prove nothing more about the worker.
struct WaitingMemoryBenchmark {
    struct Figure: Encodable {
        let waitingRuns: Int
        let residentMiBWithoutWaitingRuns: Double
        let residentMiBWithWaitingRuns: Double
    }

    static let waitingRuns = 100_000
    /// Ten-step runs worked off before each reading.
    static let workRuns = 2_000

    let configuration: PostgresConfiguration
    let baton: URL
    let progress: Progress

    func run() async throws -> Figure {
        let admin = try await PostgresConnection.connect(to: configuration)
        defer { Task { await admin.close() } }
        let pool = PostgresPool(configuration: configuration, maxConnections: 8)
        let store = RunStore(pool: pool, workerID: "bench")
        defer { Task { await pool.close() } }
        try await TenStepLoad(runs: Self.workRuns).prepare(admin, store: store, progress: progress)
        return try await WorkerProcesses.withScratch(baton: baton, environment: ["BATON_DATABASE_URL": configuration.connectionString], concurrency: 8) { workers in
            let worker = try workers.start()
            func workedOff() async throws -> Bool {
                try await admin.query("SELECT count(*) FROM baton.runs WHERE workflow = 'ten-steps' AND status <> 'succeeded'").scalar(Int.self) == 0
            }
            try await waitUntil("the worker finished the first runs", workedOff)
            let without = try WorkerProcesses.residentMiB(of: worker)

            progress.say("  parking \(Self.waitingRuns) runs on events, then the same work again …")
            try await admin.query("""
                WITH parked AS (
                    INSERT INTO baton.runs (id, workflow, version, state, status, visit, context, seq, waiting_for, timeout_at, wake_at)
                    SELECT gen_random_uuid(), 'order-delay', 1, 'awaitCarrier', 'waiting', 1,
                           jsonb_build_object('orderID', 'PARKED-' || n, 'quantity', 1), 1,
                           '["carrier-confirmed", "carrier-declined"]', now() + interval '30 days', now() + interval '30 days'
                    FROM generate_series(1, \(Self.waitingRuns)) n
                    RETURNING id, context
                )
                INSERT INTO baton.journal (run_id, seq, kind, state_to, payload, worker_id)
                SELECT id, 1, 'run-started', 'awaitCarrier', context, 'bench' FROM parked
                """)
            try await admin.runScript("ANALYZE baton.runs")
            for _ in 0..<Self.workRuns { _ = try await store.start(TenSteps.self, context: .init()) }
            try await waitUntil("the worker finished the second runs", workedOff)
            let with = try WorkerProcesses.residentMiB(of: worker)
            return Figure(waitingRuns: Self.waitingRuns, residentMiBWithoutWaitingRuns: without, residentMiBWithWaitingRuns: with)
        }
    }
}
