import Baton
import Foundation
import LibPQ

/// Runs pgbench with a custom script against the benchmark database.
enum Pgbench {
    /// What one pgbench run measured.
    struct Result {
        let transactionsPerSecond: Double
        /// Transactions pgbench completed in its run.
        let transactions: Int
        /// The machine's CPU while pgbench ran (nil where it can't be read).
        let machine: MachineCPU.Load?

        /// The machine's CPU per transaction, in microseconds (nil where it can't be read).
        var machineCPUMicrosecondsPerTransaction: Double? {
            machine.map { $0.busySeconds * 1_000_000 / Double(max(1, transactions)) }
        }
    }

    /// Runs `script` at `clients` clients for `seconds`: its transactions per second, and
    /// the machine's CPU over the whole run (pgbench's start and connections included).
    static func run(
        script: String, clients: Int, seconds: Int, mode: String, configuration: PostgresConfiguration
    ) throws -> Result {
        let folder = FileManager.default.temporaryDirectory.appending(path: "baton-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let scriptPath = folder.appending(path: "script.sql").path
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let output = folder.appending(path: "pgbench.out").path
        let machineBefore = MachineCPU.now()
        let pgbench = try ChildProcess.spawn(
            try EmbeddedDatabase.findBinDirectory().appending(path: "pgbench").path,
            ["-n", "-M", mode, "-c", "\(clients)", "-j", "\(min(clients, 2))", "-T", "\(seconds)", "-f", scriptPath,
             configuration.connectionString],
            standardOutput: output,
            standardError: output
        )
        let status = pgbench.waitBlocking()
        let machine = MachineCPU.load(since: machineBefore)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n")
        /// The number that follows `prefix` on the line that starts with it.
        func figure(after prefix: String) -> Double? {
            lines.first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count).prefix { $0 != " " }) }
        }
        guard status == 0, let tps = figure(after: "tps = "),
              let transactions = figure(after: "number of transactions actually processed: ")
        else {
            throw BenchError(message: "pgbench failed (exit \(status)):\n\(text)")
        }
        return Result(transactionsPerSecond: tps, transactions: Int(transactions), machine: machine)
    }

    /// The raw PostgreSQL limit for a transition at `clients` clients: one journal-like
    /// INSERT plus one UPDATE per transaction (`BEGIN; UPDATE … RETURNING; INSERT; COMMIT`,
    /// prepared), on tables of its own.
    static func transitions(
        _ admin: PostgresConnection, clients: Int, seconds: Int, configuration: PostgresConfiguration
    ) async throws -> Result {
        try await admin.runScript("""
            DROP TABLE IF EXISTS bench_journal, bench_runs;
            CREATE TABLE bench_runs (id integer PRIMARY KEY, seq bigint NOT NULL DEFAULT 0);
            INSERT INTO bench_runs (id) SELECT generate_series(1, 10000);
            CREATE TABLE bench_journal (run_id integer NOT NULL, seq bigint NOT NULL, kind text NOT NULL, payload jsonb,
                                        recorded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, seq));
            CHECKPOINT;
            """)
        return try run(
            script: """
                \\set id random(1, 10000)
                BEGIN;
                UPDATE bench_runs SET seq = seq + 1 WHERE id = :id RETURNING seq \\gset
                INSERT INTO bench_journal (run_id, seq, kind, payload) VALUES (:id, :seq, 'transition', '{"completed": 1}');
                COMMIT;

                """,
            clients: clients, seconds: seconds, mode: "prepared", configuration: configuration
        )
    }
}
