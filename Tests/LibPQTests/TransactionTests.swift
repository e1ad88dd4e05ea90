import BatonTesting
import LibPQ
import Testing

@Suite("Transactions", .tags(.database))
struct TransactionTests {
    struct Failure: Error {}

    @Test func aThrowingBodyRollsBackEverything() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            try await connection.query("CREATE TABLE t (n int)")
            await #expect(throws: Failure.self) {
                try await connection.withTransaction { connection in
                    try await connection.query("INSERT INTO t VALUES (1)")
                    throw Failure()
                }
            }
            #expect(try await connection.query("SELECT count(*) FROM t").scalar(Int.self) == 0)
            try await connection.withTransaction { try await $0.query("INSERT INTO t VALUES (2)") }
            #expect(try await connection.query("SELECT n FROM t").scalar(Int.self) == 2)
        }
    }

    @Test func aFailedStatementThenRollbackLeavesTheConnectionUsable() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            await #expect(throws: PostgresError.self) {
                try await connection.withTransaction { connection in
                    try await connection.query("SELECT 1 / 0")
                }
            }
            #expect(await connection.isReadyForUse())
            let answer = try await connection.query("SELECT 41 + 1").scalar(Int.self)
            #expect(answer == 42)
        }
    }

    @Test func aSavepointRollsBackOnlyItsOwnWork() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            try await connection.query("CREATE TABLE t (n int UNIQUE)")
            try await connection.withTransaction { connection in
                try await connection.query("INSERT INTO t VALUES (1)")
                await #expect(throws: PostgresError.self) {
                    try await connection.withSavepoint { connection in
                        try await connection.query("INSERT INTO t VALUES (2)")
                        try await connection.query("INSERT INTO t VALUES (1)")  // unique violation
                    }
                }
                try await connection.withSavepoint { try await $0.query("INSERT INTO t VALUES (3)") }
            }
            let values = try await connection.query("SELECT n FROM t ORDER BY n").map { try $0.decode(Int.self, at: 0) }
            #expect(values == [1, 3])
        }
    }

    @Test func theIsolationLevelIsApplied() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            let level = try await connection.withTransaction(isolation: .serializable) { connection in
                try await connection.query("SHOW transaction_isolation").scalar(String.self)
            }
            #expect(level == "serializable")
        }
    }
}
