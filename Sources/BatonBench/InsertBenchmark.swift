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
        let poolRatio: Double
        let cooperativeRatio: Double

        init(clients: Int, pool: Double, cooperative: Double, pgbench: Double) {
            self.clients = clients
            poolCommitsPerSecond = pool
            cooperativeCommitsPerSecond = cooperative
            pgbenchCommitsPerSecond = pgbench
            poolRatio = pool / pgbench
            cooperativeRatio = cooperative / pgbench
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
        return Figure(clients: clients, pool: pool, cooperative: cooperative, pgbench: raw)
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
        try Pgbench.run(
            script: """
                \\set payload random(1, 1000000)
                INSERT INTO bench_rows (payload) VALUES (:payload);

                """,
            clients: clients, seconds: seconds, mode: "extended", configuration: configuration
        ).transactionsPerSecond
    }
}

struct BenchError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
