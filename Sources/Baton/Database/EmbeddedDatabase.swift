import Foundation
import LibPQ

/// A private PostgreSQL cluster in a directory of its own, for running Baton with
/// nothing set up: created with `initdb` on first use, listening only on a unix
/// socket inside that directory (no TCP port), with a `baton` database.
///
/// It is a real PostgreSQL server, the same code path as production. As root the
/// server runs as the `postgres` user (PostgreSQL refuses root), through `runuser`.
public struct EmbeddedDatabase: Sendable {
    /// Is the server up, down, or not created yet?
    public enum State: String, Sendable, Codable {
        case running
        case stopped
        case notCreated = "not-created"
    }

    /// What ``start()`` did.
    public enum StartOutcome: String, Sendable, Codable {
        case created
        case started
        case alreadyRunning = "already-running"
    }

    /// The cluster's data directory, which also holds its socket and log.
    public let directory: URL
    /// Where `initdb`, `pg_ctl` and `postgres` are.
    public let binDirectory: URL
    /// The database Baton uses inside the cluster.
    public let databaseName = "baton"
    private let port = 5432

    /// - Parameters:
    ///   - directory: the data directory, for example `.baton/postgres`.
    ///   - binDirectory: PostgreSQL's programs; found with ``findBinDirectory(environment:)`` when nil.
    public init(directory: URL, binDirectory: URL? = nil) throws {
        self.directory = directory.standardizedFileURL
        self.binDirectory = try binDirectory ?? Self.findBinDirectory()
        let socket = self.directory.appending(path: ".s.PGSQL.\(port)").path
        guard socket.utf8.count < 108 else {
            throw BatonError(.embeddedDatabase, """
                the socket path \(socket) is longer than the 107 bytes unix sockets allow: \
                run baton from a shorter directory or set BATON_DATABASE_URL
                """)
        }
    }

    /// `BATON_PG_BIN` if set, else the folder of `initdb` on the `PATH`, else the
    /// newest `/usr/lib/postgresql/*/bin` (Debian's layout).
    public static func findBinDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        if let configured = environment["BATON_PG_BIN"], !configured.isEmpty {
            return URL(fileURLWithPath: configured)
        }
        let fileManager = FileManager.default
        for folder in (environment["PATH"] ?? "").split(separator: ":") {
            let initdb = URL(fileURLWithPath: String(folder)).appending(path: "initdb")
            if fileManager.isExecutableFile(atPath: initdb.path) {
                return initdb.resolvingSymlinksInPath().deletingLastPathComponent()
            }
        }
        let debianRoot = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = ((try? fileManager.contentsOfDirectory(atPath: debianRoot.path)) ?? [])
            .compactMap(Int.init).sorted()
        for version in versions.reversed() {
            let bin = debianRoot.appending(path: "\(version)/bin")
            if fileManager.isExecutableFile(atPath: bin.appending(path: "initdb").path) { return bin }
        }
        throw BatonError(.embeddedDatabase, """
            PostgreSQL's programs (initdb, pg_ctl) were not found: install the postgresql package \
            (ops/setup does) or set BATON_PG_BIN to their folder
            """)
    }

    /// A connection string for the `baton` database over the unix socket; `psql` takes it too.
    public var url: String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "/-._~"))
        let host = directory.path.addingPercentEncoding(withAllowedCharacters: allowed) ?? directory.path
        return "postgresql:///\(databaseName)?host=\(host)&port=\(port)&user=postgres"
    }

    public var configuration: PostgresConfiguration {
        get throws { try PostgresConfiguration(url) }
    }

    public func state() throws -> State {
        guard FileManager.default.fileExists(atPath: directory.appending(path: "PG_VERSION").path) else {
            return .notCreated
        }
        removeStalePIDFile()
        let status = try ExternalCommand.asDatabaseOwner(tool("pg_ctl"), ["status", "-D", directory.path]).run()
        return status.status == 0 ? .running : .stopped
    }

    /// Creates the cluster if needed and starts it; harmless when it already runs.
    @discardableResult
    public func start() async throws -> StartOutcome {
        var outcome = StartOutcome.started
        switch try state() {
        case .running:
            return .alreadyRunning
        case .notCreated:
            try create()
            outcome = .created
        case .stopped:
            break
        }
        let started = try ExternalCommand.asDatabaseOwner(tool("pg_ctl"), [
            "start", "-w", "-t", "60", "-D", directory.path, "-l", directory.appending(path: "server.log").path,
        ]).run()
        guard started.status == 0 else {
            let log = (try? String(contentsOf: directory.appending(path: "server.log"), encoding: .utf8)) ?? ""
            throw BatonError(.embeddedDatabase, """
                PostgreSQL in \(directory.path) did not start: \(started.text.trimmed)
                \(log.split(separator: "\n").suffix(5).joined(separator: "\n"))
                """)
        }
        try await createBatonDatabaseIfMissing()
        return outcome
    }

    /// Stops the server (fast shutdown: running statements are rolled back). Harmless when stopped.
    public func stop() throws {
        guard try state() == .running else { return }
        let stopped = try ExternalCommand.asDatabaseOwner(tool("pg_ctl"), ["stop", "-w", "-m", "fast", "-D", directory.path]).run()
        guard stopped.status == 0 else {
            throw BatonError(.embeddedDatabase, "PostgreSQL in \(directory.path) did not stop: \(stopped.text.trimmed)")
        }
    }

    /// Restarts the server at once, as a crash would (`pg_ctl restart -m immediate`):
    /// every connection drops and uncommitted work is lost; committed work survives
    /// through WAL recovery. For fault-injection tests.
    public func restartImmediately() throws {
        let restarted = try ExternalCommand.asDatabaseOwner(tool("pg_ctl"), [
            "restart", "-w", "-t", "60", "-m", "immediate", "-D", directory.path, "-l", directory.appending(path: "server.log").path,
        ]).run()
        guard restarted.status == 0 else {
            throw BatonError(.embeddedDatabase, "PostgreSQL in \(directory.path) did not restart: \(restarted.text.trimmed)")
        }
    }

    private func create() throws {
        let fileManager = FileManager.default
        try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
        if getuid() == 0 {
            let owner = try ExternalCommand(executable: "/bin/chown", arguments: ["postgres:postgres", directory.path]).run()
            guard owner.status == 0 else {
                throw BatonError(.embeddedDatabase, "could not give \(directory.path) to the postgres user: \(owner.text.trimmed)")
            }
        }
        try fileManager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
        let initdb = try ExternalCommand.asDatabaseOwner(tool("initdb"), [
            "-D", directory.path, "-U", "postgres", "-E", "UTF8", "--no-locale",
            "--auth-local=trust", "--auth-host=reject",
        ]).run()
        guard initdb.status == 0 else {
            try? fileManager.removeItem(at: directory)
            let hint = getuid() == 0 ? " (the postgres user must be able to reach \(directory.path))" : ""
            throw BatonError(.embeddedDatabase, "initdb failed in \(directory.path)\(hint): \(initdb.text.trimmed)")
        }
        // Only a unix socket inside the data directory, readable by its owner alone.
        let settings = """

            # Added by baton: a private server reached only through the socket below.
            listen_addresses = ''
            unix_socket_directories = '\(directory.path.replacingOccurrences(of: "'", with: "''"))'
            unix_socket_permissions = 0700
            port = \(port)

            """
        let config = try FileHandle(forWritingTo: directory.appending(path: "postgresql.conf"))
        try config.seekToEnd()
        try config.write(contentsOf: Data(settings.utf8))
        try config.close()
    }

    private func createBatonDatabaseIfMissing() async throws {
        let connection = try await PostgresConnection.connect(to: try configuration.replacingDatabase(with: "postgres"))
        let exists = try await connection
            .query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = \(databaseName))")
            .scalar(Bool.self)
        if !exists {
            // The name is this type's constant, not input.
            try await connection.runScript("CREATE DATABASE \(databaseName)")
        }
        await connection.close()
    }

    /// After a crash `postmaster.pid` may name a process that is gone, or a reused
    /// pid that is no PostgreSQL; either way the file is stale and would stop `start`.
    private func removeStalePIDFile() {
        let pidFile = directory.appending(path: "postmaster.pid")
        guard let contents = try? String(contentsOf: pidFile, encoding: .utf8),
              let pid = contents.split(separator: "\n").first.flatMap({ Int32($0.trimmingCharacters(in: .whitespaces)) })
        else { return }
        let command = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmed
        if command != "postgres" {
            try? FileManager.default.removeItem(at: pidFile)
        }
    }

    private func tool(_ name: String) -> String {
        binDirectory.appending(path: name).path
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
