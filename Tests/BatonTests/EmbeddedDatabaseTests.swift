import Baton
import BatonTesting
import Foundation
import LibPQ
import Testing

@Suite("The embedded database", .tags(.process))
struct EmbeddedDatabaseTests {
    /// Runs `body` with a fresh BATON_HOME under /tmp (the postgres user must be able
    /// to reach it), and stops the cluster and deletes the folder afterwards.
    func withBatonHome(_ body: (URL, [String: String]) async throws -> Void) async throws {
        let home = URL(fileURLWithPath: "/tmp").appending(path: "baton-embedded-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let environment = ["BATON_HOME": home.path, "BATON_DATABASE_URL": ""]
        do {
            try await body(home, environment)
        } catch {
            _ = try? await BatonProcess(["db", "stop"], environment: environment).run()
            try? FileManager.default.removeItem(at: home)
            throw error
        }
        _ = try await BatonProcess(["db", "stop"], environment: environment).run()
        try FileManager.default.removeItem(at: home)
    }

    func baton(_ arguments: String..., environment: [String: String]) async throws -> BatonProcess.Result {
        let result = try await BatonProcess(arguments, environment: environment).run()
        #expect(result.status == 0, "baton \(arguments.joined(separator: " ")) failed: \(result.standardError)")
        return result
    }

    @Test func startStopAndStartAgainKeepsTheData() async throws {
        try await withBatonHome { home, environment in
            let created = try await baton("db", "start", environment: environment)
            #expect(created.standardOutput.contains("Created and started"))
            // migrate uses the embedded cluster when BATON_DATABASE_URL is unset.
            _ = try await baton("migrate", environment: environment)
            let url = try await baton("db", "url", environment: environment).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            var connection = try await PostgresConnection.connect(to: try PostgresConfiguration(url))
            try await connection.query("CREATE TABLE kept (note text)")
            try await connection.query("INSERT INTO kept VALUES (\("still here"))")
            await connection.close()

            _ = try await baton("db", "stop", environment: environment)
            let stopped = try await baton("db", "status", "--json", environment: environment)
            #expect(stopped.standardOutput.contains("\"state\" : \"stopped\""))
            let restarted = try await baton("db", "start", environment: environment)
            #expect(restarted.standardOutput.contains("Started PostgreSQL"))
            let again = try await baton("db", "start", environment: environment)
            #expect(again.standardOutput.contains("already running"))

            connection = try await PostgresConnection.connect(to: try PostgresConfiguration(url))
            #expect(try await connection.query("SELECT note FROM kept").scalar(String.self) == "still here")
            let version = try await connection.query("SELECT version FROM baton.schema_version").scalar(Int.self)
            #expect(version == (try Migration.bundled().last?.version))
            await connection.close()
            // Only a unix socket: the data directory holds it, and no TCP listener is configured.
            #expect(FileManager.default.fileExists(atPath: home.appending(path: "postgres/.s.PGSQL.5432").path))
        }
    }

    @Test func theURLItPrintsIsAcceptedByPsql() async throws {
        try await withBatonHome { _, environment in
            _ = try await baton("db", "start", environment: environment)
            let url = try await baton("db", "url", environment: environment).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            let psql = try await Program.run("/usr/bin/psql", [url, "-Atc", "SELECT current_database() || '|' || current_setting('listen_addresses') || '|'"])
            #expect(psql.status == 0, "psql failed: \(psql.output)")
            #expect(psql.output.trimmingCharacters(in: .whitespacesAndNewlines) == "baton||")
        }
    }

    @Test func aStalePIDFileLeftByACrashIsHandled() async throws {
        try await withBatonHome { home, environment in
            _ = try await baton("db", "start", environment: environment)
            let pidFile = home.appending(path: "postgres/postmaster.pid")
            let pid = try #require(Int32(try String(contentsOf: pidFile, encoding: .utf8).split(separator: "\n")[0]))
            #expect(kill(pid, SIGKILL) == 0)
            // Wait for the postmaster to be gone; its pid file stays behind.
            for _ in 0..<100 where kill(pid, 0) == 0 || FileManager.default.fileExists(atPath: "/proc/\(pid)") {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(FileManager.default.fileExists(atPath: pidFile.path))
            let status = try await baton("db", "status", environment: environment)
            #expect(status.standardOutput.contains("stopped"))
            let restarted = try await baton("db", "start", environment: environment)
            #expect(restarted.standardOutput.contains("Started PostgreSQL"))
            let url = try await baton("db", "url", environment: environment).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            let connection = try await PostgresConnection.connect(to: try PostgresConfiguration(url))
            #expect(try await connection.query("SELECT 1").scalar(Int.self) == 1)
            await connection.close()
        }
    }
}

@Suite("A pool across a server restart", .tags(.process))
struct PoolRestartTests {
    @Test func aPoolReplacesItsConnectionsAfterTheServerRestarts() async throws {
        let home = URL(fileURLWithPath: "/tmp").appending(path: "baton-restart-\(UUID().uuidString.prefix(8))")
        let database = try EmbeddedDatabase(directory: home.appending(path: "postgres"))
        defer {
            try? database.stop()
            try? FileManager.default.removeItem(at: home)
        }
        try await database.start()
        let pool = PostgresPool(configuration: try database.configuration, maxConnections: 3)
        let before = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<3 {
                group.addTask { try await pool.withConnection { try await $0.query("SELECT pg_backend_pid() FROM pg_sleep(0.05)").scalar(Int32.self) } }
            }
            return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
        }
        #expect(before.count == 3)

        try database.stop()
        try await database.start()

        let after = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<6 {
                group.addTask { try await pool.withConnection { try await $0.query("SELECT pg_backend_pid()").scalar(Int32.self) } }
            }
            return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
        }
        #expect(!after.isEmpty)
        #expect(after.isDisjoint(with: before))
        await pool.close()
    }
}
