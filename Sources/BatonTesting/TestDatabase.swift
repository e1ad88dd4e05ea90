import Foundation
import LibPQ

/// A throwaway database per test, on the PostgreSQL server that `ops/test` starts.
///
/// ```swift
/// @Test func storesOrders() async throws {
///     try await TestDatabase.withFreshDatabase { configuration in
///         let connection = try await PostgresConnection.connect(to: configuration)
///         …
///     }
/// }
/// ```
/// Each call creates a database with a unique name and drops it afterwards, so
/// tests can run in parallel without seeing each other's rows.
public enum TestDatabase {
    /// The environment variable naming the test server, set by `ops/test`.
    public static let environmentVariable = "BATON_TEST_DATABASE_URL"

    /// The server's maintenance database, from ``environmentVariable``.
    public static func serverConfiguration() throws -> PostgresConfiguration {
        guard let url = ProcessInfo.processInfo.environment[environmentVariable], !url.isEmpty else {
            throw PostgresError(
                code: .connectionFailed,
                message: "\(environmentVariable) is not set: run the tests through ops/test, which starts a PostgreSQL server"
            )
        }
        return try PostgresConfiguration(url)
    }

    /// Creates an empty database, passes `body` its configuration, and drops it
    /// (closing whatever connections are left) when `body` returns or throws.
    nonisolated(nonsending) public static func withFreshDatabase<Result>(
        _ body: (PostgresConfiguration) async throws -> Result
    ) async throws -> Result {
        let server = try serverConfiguration()
        let name = "baton_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let admin = try await PostgresConnection.connect(to: server)
        // `name` is generated above, never input: safe to put in the statement text.
        try await admin.runScript("CREATE DATABASE \(name)")
        do {
            let result = try await body(try server.replacingDatabase(with: name))
            try await admin.runScript("DROP DATABASE \(name) WITH (FORCE)")
            await admin.close()
            return result
        } catch {
            _ = try? await admin.runScript("DROP DATABASE \(name) WITH (FORCE)")
            await admin.close()
            throw error
        }
    }

    /// A connection to a fresh database (see ``withFreshDatabase(_:)``), closed and
    /// dropped after `body`. `body` also gets the database's configuration, for
    /// opening more connections or handing it to a `baton` process.
    public static func withFreshConnection(
        _ body: (PostgresConnection, PostgresConfiguration) async throws -> Void
    ) async throws {
        try await withFreshDatabase { configuration in
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
}
