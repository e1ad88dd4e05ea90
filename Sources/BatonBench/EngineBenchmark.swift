import Baton
import BatonExamples
import Foundation
import LibPQ
import Logging

/// Runs of the ten-step no-op workflow driven by an in-process worker, at a fixed
/// number of runs in flight, next to pgbench running one journal-like INSERT plus one
/// UPDATE per transaction at the same client count (the raw PostgreSQL limit for a
/// transition).
struct EngineBenchmark {
    struct Figure: Encodable {
        let inFlight: Int
        let runs: Int
        let stepsPerSecond: Double
        let transitionsPerSecond: Double
        let p50StepMilliseconds: Double
        let p99StepMilliseconds: Double
        let walBytesPerStep: Double
        let transactionsPerRun: Double
        let pgbenchTransactionsPerSecond: Double
        /// Steps per second over the raw limit for one transition per transaction.
        let ratio: Double
    }

    let configuration: PostgresConfiguration
    let inFlight: Int
    let seconds: Int

    func run() async throws -> Figure {
        let admin = try await PostgresConnection.connect(to: configuration)
        defer { Task { await admin.close() } }
        try await admin.runScript("DROP SCHEMA IF EXISTS baton CASCADE")
        try await Migrator(migrations: try Migration.bundled()).migrate(admin)
        let pool = PostgresPool(configuration: configuration, maxConnections: inFlight + 2)
        let store = RunStore(pool: pool, workerID: "bench")
        let runs = max(inFlight * 20, 100)
        for _ in 0..<runs { _ = try await store.start(TenSteps.self, context: .init()) }

        try await Task.sleep(for: .seconds(1))
        let before = try await counters(admin)
        var registry = WorkflowRegistry()
        try registry.register(TenSteps.self)
        let worker = Worker(
            store: store, registry: registry,
            configuration: WorkerConfiguration(concurrency: inFlight, pollInterval: .milliseconds(20)),
            logger: Logger(label: "bench")
        )
        let started = ContinuousClock.now
        let working = Task { try await worker.run() }
        while try await admin.query("SELECT count(*) FROM baton.runs WHERE status <> 'succeeded'").scalar(Int.self) > 0 {
            try await Task.sleep(for: .milliseconds(5))
        }
        let elapsed = (ContinuousClock.now - started).seconds
        working.cancel()
        try await working.value
        await pool.close()
        // Backends publish their statistics when they exit, a moment after the pool closes.
        try await Task.sleep(for: .seconds(1))
        let after = try await counters(admin)

        let latencies = try await admin.query("""
            WITH gaps AS (
                SELECT extract(epoch FROM recorded_at - lag(recorded_at) OVER (PARTITION BY run_id ORDER BY seq)) * 1000 AS ms
                FROM baton.journal WHERE kind = 'transition'
            )
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)
            FROM gaps WHERE ms IS NOT NULL
            """)[0]
        let steps = Double(runs * 10)
        let raw = try await pgbenchTransitionsPerSecond(admin)
        return Figure(
            inFlight: inFlight, runs: runs,
            stepsPerSecond: steps / elapsed,
            transitionsPerSecond: Double(runs * 10) / elapsed,
            p50StepMilliseconds: try latencies.decode(Double.self, at: 0),
            p99StepMilliseconds: try latencies.decode(Double.self, at: 1),
            walBytesPerStep: Double(after.walBytes - before.walBytes) / steps,
            transactionsPerRun: Double(after.commits - before.commits) / Double(runs),
            pgbenchTransactionsPerSecond: raw,
            ratio: steps / elapsed / raw
        )
    }

    /// WAL position and committed transactions of this database.
    private func counters(_ connection: PostgresConnection) async throws -> (walBytes: Int, commits: Int) {
        try await connection.query("SELECT pg_stat_clear_snapshot()")
        let row = try await connection.query("""
            SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
                   (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())
            """)[0]
        return (try row.decode(Int.self, at: 0), try row.decode(Int.self, at: 1))
    }

    private func pgbenchTransitionsPerSecond(_ admin: PostgresConnection) async throws -> Double {
        try await admin.runScript("""
            DROP TABLE IF EXISTS bench_journal, bench_runs;
            CREATE TABLE bench_runs (id integer PRIMARY KEY, seq bigint NOT NULL DEFAULT 0);
            INSERT INTO bench_runs (id) SELECT generate_series(1, 10000);
            CREATE TABLE bench_journal (run_id integer NOT NULL, seq bigint NOT NULL, kind text NOT NULL, payload jsonb,
                                        recorded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, seq));
            CHECKPOINT;
            """)
        return try Pgbench.transactionsPerSecond(
            script: """
                \\set id random(1, 10000)
                BEGIN;
                UPDATE bench_runs SET seq = seq + 1 WHERE id = :id RETURNING seq \\gset
                INSERT INTO bench_journal (run_id, seq, kind, payload) VALUES (:id, :seq, 'transition', '{"completed": 1}');
                COMMIT;

                """,
            clients: inFlight, seconds: seconds, mode: "prepared", configuration: configuration
        )
    }
}
