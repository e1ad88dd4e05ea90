import BatonTesting
import Foundation
import LibPQ
import Testing

@Suite("Connection threads", .tags(.database))
struct ConnectionThreadTests {
    /// Each connection's thread is named after its database, as `top -H` shows it: the
    /// threads that libpq blocks on can be told apart from Swift's cooperative pool.
    @Test func aConnectionsThreadIsNamedAfterItsDatabase() async throws {
        try await TestDatabase.withFreshConnection { connection, configuration in
            _ = try await connection.query("SELECT 1")
            let expected = String(decoding: Array("postgres \(configuration.database ?? "")".utf8.prefix(15)), as: UTF8.self)
            #expect(try Self.threadNames().contains(expected))
        }
    }

    /// The names of this process's threads, from `/proc/self/task/*/comm`.
    private static func threadNames() throws -> [String] {
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")
        return tasks.compactMap { task in
            (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .newlines)
        }
    }
}
