import Foundation
import LibPQ

/// Baton's settings, read from the environment in one place.
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `BATON_DATABASE_URL` | the PostgreSQL to use (URL or `key=value` string) | the embedded cluster |
/// | `BATON_HOME` | where the embedded cluster lives | `.baton` in the working directory |
/// | `BATON_PG_BIN` | PostgreSQL's programs, for the embedded cluster | found on `PATH` or in `/usr/lib/postgresql` |
/// | `BATON_MAX_PAYLOAD_BYTES` | the largest context, event data or step output accepted | 1048576 (1 MiB) |
public struct BatonConfiguration: Sendable {
    /// The database to use, or `nil` for the embedded cluster.
    public var databaseURL: String?
    /// The folder of Baton's local state; the embedded cluster is in `postgres/` inside it.
    public var home: URL
    /// See ``RunStore/maxPayloadBytes``.
    public var maxPayloadBytes: Int

    public init(databaseURL: String?, home: URL, maxPayloadBytes: Int = RunStore.defaultMaxPayloadBytes) {
        self.databaseURL = databaseURL
        self.home = home
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Reads the variables in the table above; throws for a value that makes no sense.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> BatonConfiguration {
        let home = environment["BATON_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appending(path: ".baton")
        let url = environment["BATON_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        var maxPayloadBytes = RunStore.defaultMaxPayloadBytes
        if let text = environment["BATON_MAX_PAYLOAD_BYTES"], !text.isEmpty {
            guard let bytes = Int(text), bytes > 0 else {
                throw BatonError(.configuration, "BATON_MAX_PAYLOAD_BYTES must be a positive number of bytes, not \(text)")
            }
            maxPayloadBytes = bytes
        }
        return BatonConfiguration(databaseURL: url, home: home, maxPayloadBytes: maxPayloadBytes)
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
