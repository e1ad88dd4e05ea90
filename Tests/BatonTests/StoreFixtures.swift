import Baton
import BatonTesting
import LibPQ
import Synchronization
import Testing

/// A migrated fresh database, a store writing as worker "a" on it, and a clock to move.
func withMigratedStore(_ body: (RunStore, Clockwork) async throws -> Void) async throws {
    try await TestDatabase.withFreshConnection { connection, configuration in
        try await Migrator(migrations: try Migration.bundled()).migrate(connection)
        let pool = PostgresPool(configuration: configuration, maxConnections: 4)
        let clockwork = Clockwork(connection: connection, configuration: configuration)
        do {
            try await body(RunStore(pool: pool, workerID: "a"), clockwork)
            await pool.close()
            await clockwork.close()
        } catch {
            await pool.close()
            await clockwork.close()
            throw error
        }
    }
}

/// Polls `condition` every 20 ms until it holds or `limit` passes; returns whether it held.
func eventually(within limit: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return false
}

/// Moves `baton.current_time()` for new sessions of the test database, and opens
/// stores whose connections see the moved clock.
final class Clockwork: Sendable {
    let connection: PostgresConnection
    let configuration: PostgresConfiguration
    private let pools = Mutex<[PostgresPool]>([])

    init(connection: PostgresConnection, configuration: PostgresConfiguration) {
        self.connection = connection
        self.configuration = configuration
    }

    /// A store whose clock reads `offset` (an interval, "2 minutes") past now.
    func store(at offset: String, worker: String = "a") async throws -> RunStore {
        let fakeNow = try await connection.query("SELECT (now() + \(offset)::interval)::text").scalar(String.self)
        let database = try #require(configuration.database)
        // Identifiers can't be bound; the name is the test's own generated one.
        try await connection.runScript("ALTER DATABASE \(database) SET baton.fake_now = '\(fakeNow)'")
        let pool = PostgresPool(configuration: configuration, maxConnections: 2)
        pools.withLock { $0.append(pool) }
        return RunStore(pool: pool, workerID: worker)
    }

    func close() async {
        for pool in pools.withLock({ $0 }) { await pool.close() }
    }
}
