import Baton
import Foundation
import LibPQ

/// Single-row INSERT commits per second through the client, next to pgbench running
/// the same statement (`-M extended`: parse, bind and execute per statement with one
/// bound parameter, as `PQexecParams` does) at the same client count.
///
/// The client is measured two ways: inside `PostgresPool.withConnection` (the
/// recommended path: the body runs on the connection's thread), and awaiting each
/// statement from a task on Swift's cooperative pool (two thread switches each).
struct InsertBenchmark {
    struct Figure: Encodable {
        let clients: Int
        let poolCommitsPerSecond: Double
        let cooperativeCommitsPerSecond: Double
        let pgbenchCommitsPerSecond: Double
        var poolRatio: Double { poolCommitsPerSecond / pgbenchCommitsPerSecond }
        var cooperativeRatio: Double { cooperativeCommitsPerSecond / pgbenchCommitsPerSecond }

        enum CodingKeys: String, CodingKey {
            case clients, poolCommitsPerSecond, cooperativeCommitsPerSecond, pgbenchCommitsPerSecond, poolRatio, cooperativeRatio
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(clients, forKey: .clients)
            try container.encode(poolCommitsPerSecond, forKey: .poolCommitsPerSecond)
            try container.encode(cooperativeCommitsPerSecond, forKey: .cooperativeCommitsPerSecond)
            try container.encode(pgbenchCommitsPerSecond, forKey: .pgbenchCommitsPerSecond)
            try container.encode(poolRatio, forKey: .poolRatio)
            try container.encode(cooperativeRatio, forKey: .cooperativeRatio)
        }
    }

    let configuration: PostgresConfiguration
    let clients: Int
    let seconds: Int

    func run() async throws -> Figure {
        try await resetTable()
        let pool = try await poolCommitsPerSecond()
        try await resetTable()
        let cooperative = try await cooperativeCommitsPerSecond()
        try await resetTable()
        let raw = try pgbenchCommitsPerSecond()
        return Figure(
            clients: clients, poolCommitsPerSecond: pool, cooperativeCommitsPerSecond: cooperative,
            pgbenchCommitsPerSecond: raw
        )
    }

    private func resetTable() async throws {
        let connection = try await PostgresConnection.connect(to: configuration)
        try await connection.runScript("""
            DROP TABLE IF EXISTS bench_rows;
            CREATE TABLE bench_rows (id bigserial PRIMARY KEY, payload bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
            CHECKPOINT;
            """)
        await connection.close()
    }

    /// Each client holds a pooled connection and inserts until the deadline.
    private func poolCommitsPerSecond() async throws -> Double {
        let pool = PostgresPool(configuration: configuration, maxConnections: clients)
        let deadline = ContinuousClock.now + .seconds(seconds)
        let started = ContinuousClock.now
        let commits = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    try await pool.withConnection { connection in
                        try await insertUntil(deadline, on: connection)
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = (ContinuousClock.now - started).milliseconds / 1000
        await pool.close()
        return Double(commits) / elapsed
    }

    /// Each client is a plain task on the cooperative pool awaiting its own connection.
    private func cooperativeCommitsPerSecond() async throws -> Double {
        let connections = try await withThrowingTaskGroup(of: PostgresConnection.self) { group in
            for _ in 0..<clients { group.addTask { try await PostgresConnection.connect(to: configuration) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let deadline = ContinuousClock.now + .seconds(seconds)
        let started = ContinuousClock.now
        let commits = try await withThrowingTaskGroup(of: Int.self) { group in
            for connection in connections {
                group.addTask { try await insertUntil(deadline, on: connection) }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = (ContinuousClock.now - started).milliseconds / 1000
        for connection in connections { await connection.close() }
        return Double(commits) / elapsed
    }

    private func insertUntil(_ deadline: ContinuousClock.Instant, on connection: PostgresConnection) async throws -> Int {
        var count = 0
        while ContinuousClock.now < deadline {
            try await connection.query("INSERT INTO bench_rows (payload) VALUES (\(Int.random(in: 1...1_000_000)))")
            count += 1
        }
        return count
    }

    private func pgbenchCommitsPerSecond() throws -> Double {
        let folder = FileManager.default.temporaryDirectory.appending(path: "baton-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = folder.appending(path: "insert.sql").path
        try """
            \\set payload random(1, 1000000)
            INSERT INTO bench_rows (payload) VALUES (:payload);

            """.write(toFile: script, atomically: true, encoding: .utf8)
        let output = folder.appending(path: "pgbench.out").path
        let pgbench = try ChildProcess.spawn(
            try EmbeddedDatabase.findBinDirectory().appending(path: "pgbench").path,
            ["-n", "-M", "extended", "-c", "\(clients)", "-j", "\(min(clients, 2))", "-T", "\(seconds)", "-f", script,
             configuration.connectionString],
            standardOutput: output,
            standardError: output
        )
        let status = pgbench.waitBlocking()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0,
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
              let tps = Double(line.dropFirst("tps = ".count).prefix { $0 != " " })
        else {
            throw BenchError(message: "pgbench failed (exit \(status)):\n\(text)")
        }
        return tps
    }
}

struct BenchError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
