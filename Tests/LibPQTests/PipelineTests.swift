import BatonTesting
import LibPQ
import Testing

@Suite("Pipelines", .tags(.database))
struct PipelineTests {
    @Test func manyStatementsRunInOneRoundTripAndReturnResultsInOrder() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            try await connection.query("CREATE TABLE t (n int PRIMARY KEY, label text)")
            let inserts: [PostgresQuery] = (1...10_000).map { "INSERT INTO t VALUES (\($0), \("row \($0)"))" }
            let results = try await connection.pipeline(inserts + ["SELECT count(*), max(n) FROM t"])
            #expect(results.count == 10_001)
            #expect(results[0].affectedRows == 1)
            #expect(try results[10_000][0].decode(Int.self, at: 0) == 10_000)
            #expect(try results[10_000][0].decode(Int.self, at: 1) == 10_000)
        }
    }

    @Test func aFailingStatementUndoesThePipelineAndSaysWhichFailed() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            try await connection.query("CREATE TABLE t (n int PRIMARY KEY)")
            let error = await #expect(throws: PostgresError.self) {
                try await connection.pipeline(["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"])
            }
            #expect(error?.sqlState == .uniqueViolation)
            #expect(error?.message.contains("statement 2 of 3") == true)
            #expect(try await connection.query("SELECT count(*) FROM t").scalar(Int.self) == 0)
            #expect(try await connection.pipeline(["INSERT INTO t VALUES (5)"]).count == 1)
        }
    }

    @Test func aRefusedParameterStopsThePipelineBeforeAnythingRuns() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            try await connection.query("CREATE TABLE t (s text)")
            await #expect(throws: PostgresError.self) {
                try await connection.pipeline(["INSERT INTO t VALUES ('ok')", "INSERT INTO t VALUES (\("a\u{0}b"))"])
            }
            #expect(try await connection.query("SELECT count(*) FROM t").scalar(Int.self) == 0)
        }
    }
}
