import BatonTesting
import LibPQ

/// A connection to a fresh, empty database that is dropped after `body`.
func withFreshConnection(
    _ body: (PostgresConnection, PostgresConfiguration) async throws -> Void
) async throws {
    try await TestDatabase.withFreshDatabase { configuration in
        let connection = try await PostgresConnection.connect(to: configuration)
        do {
            try await body(connection, configuration)
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
    }
}
