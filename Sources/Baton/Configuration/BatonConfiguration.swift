import Foundation
import LibPQ

/// Baton's settings, read from the environment in one place.
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `BATON_DATABASE_URL` | the PostgreSQL to use (URL or `key=value` string) | the embedded cluster |
/// | `BATON_HOME` | where the embedded cluster lives | `.baton` in the working directory |
/// | `BATON_PG_BIN` | PostgreSQL's programs, for the embedded cluster | found on `PATH` or in `/usr/lib/postgresql` |
public struct BatonConfiguration: Sendable {
    /// The database to use, or `nil` for the embedded cluster.
    public var databaseURL: String?
    /// The folder of Baton's local state; the embedded cluster is in `postgres/` inside it.
    public var home: URL

    public init(databaseURL: String?, home: URL) {
        self.databaseURL = databaseURL
        self.home = home
    }

    /// Reads the variables in the table above.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> BatonConfiguration {
        let home = environment["BATON_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appending(path: ".baton")
        let url = environment["BATON_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        return BatonConfiguration(databaseURL: url, home: home)
    }

    /// The embedded cluster under ``home``.
    public func embeddedDatabase() throws -> EmbeddedDatabase {
        try EmbeddedDatabase(directory: home.appending(path: "postgres"))
    }

    /// Where to connect: ``databaseURL``, or the embedded cluster, started (and
    /// created) if it isn't running.
    public func resolveDatabase() async throws -> PostgresConfiguration {
        if let databaseURL {
            do {
                return try PostgresConfiguration(databaseURL)
            } catch let error as PostgresError {
                throw BatonError(.configuration, "BATON_DATABASE_URL: \(error.message)")
            }
        }
        let embedded = try embeddedDatabase()
        try await embedded.start()
        return try embedded.configuration
    }
}
