import BatonTesting
import LibPQ
import Testing

@Suite("Connection pool", .tags(.database))
struct PoolTests {
    @Test func twoHundredConcurrentTasksShareFourConnections() async throws {
        try await TestDatabase.withFreshConnection { admin, configuration in
            try await admin.query("CREATE TABLE hits (task int PRIMARY KEY, backend int NOT NULL)")
            let pool = PostgresPool(configuration: configuration, maxConnections: 4)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<200 {
                    group.addTask {
                        _ = try await pool.withConnection { connection in
                            try await connection.query("INSERT INTO hits SELECT \(task), pg_backend_pid() FROM pg_sleep(0.002)")
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await admin.query("SELECT count(*) FROM hits").scalar(Int.self) == 200)
            #expect(try await admin.query("SELECT count(DISTINCT backend) FROM hits").scalar(Int.self) <= 4)
            await pool.close()
        }
    }

    @Test func connectionsKilledByTheServerAreReplaced() async throws {
        try await TestDatabase.withFreshConnection { admin, configuration in
            let pool = PostgresPool(configuration: configuration, maxConnections: 4)
            // Open all four connections.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask { _ = try await pool.withConnection { try await $0.query("SELECT pg_sleep(0.05)") } }
                }
                try await group.waitForAll()
            }
            let terminated = try await admin.query("""
                SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
                """).scalar(Int.self)
            #expect(terminated == 4)
            let answers = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<8 {
                    group.addTask { try await pool.withConnection { try await $0.query("SELECT \(index)").scalar(Int.self) } }
                }
                return try await group.reduce(0, +)
            }
            #expect(answers == (0..<8).reduce(0, +))
            await pool.close()
        }
    }

    @Test func waitersAreServedInArrivalOrder() async throws {
        try await TestDatabase.withFreshConnection { _, configuration in
            let pool = PostgresPool(configuration: configuration, maxConnections: 1)
            let order = ArrivalLog()
            let held = await HeldConnection.take(from: pool)
            var waiters: [Task<Void, any Error>] = []
            for index in 0..<5 {
                waiters.append(Task { try await pool.withConnection { _ in await order.record(index) } })
                // Give each waiter time to queue before the next one arrives.
                try await Task.sleep(for: .milliseconds(50))
            }
            try await held.release()
            for waiter in waiters { try await waiter.value }
            #expect(await order.entries == [0, 1, 2, 3, 4])
            await pool.close()
        }
    }

    @Test func aTaskCancelledWhileWaitingLeavesTheQueueAtOnce() async throws {
        try await TestDatabase.withFreshConnection { _, configuration in
            let pool = PostgresPool(configuration: configuration, maxConnections: 1)
            let held = await HeldConnection.take(from: pool)
            let cancelled = Task { try await pool.withConnection { _ in "served" } }
            let patient = Task { try await pool.withConnection { try await $0.query("SELECT 'served'").scalar(String.self) } }
            try await Task.sleep(for: .milliseconds(50))
            cancelled.cancel()
            // The cancelled task must end while the connection is still held, that is,
            // leave the queue; a timer makes a regression fail instead of hang.
            let (ended, ending) = AsyncStream<Bool>.makeStream()
            Task {
                let outcome = await cancelled.result
                ending.yield((try? outcome.get()) == nil)
            }
            Task {
                try await Task.sleep(for: .seconds(10))
                ending.yield(false)
            }
            var first = ended.makeAsyncIterator()
            #expect(await first.next() == true, "a cancelled waiter stayed queued")
            try await held.release()
            #expect(try await patient.value == "served")
            await pool.close()
        }
    }

    @Test func aClosedPoolRefusesWork() async throws {
        let pool = PostgresPool(configuration: try PostgresConfiguration("host=/nonexistent"), maxConnections: 1)
        await pool.close()
        let error = await #expect(throws: PostgresError.self) { try await pool.withConnection { _ in } }
        #expect(error?.code == .poolClosed)
    }
}

/// The order in which waiters got their connection.
private actor ArrivalLog {
    private(set) var entries: [Int] = []

    func record(_ entry: Int) {
        entries.append(entry)
    }
}

/// A pool's connection held by a task of its own until ``release()``.
private struct HeldConnection {
    let holder: Task<Void, any Error>
    let releasing: AsyncStream<Void>.Continuation

    /// Returns once the connection is held.
    static func take(from pool: PostgresPool) async -> HeldConnection {
        let (held, holding) = AsyncStream<Void>.makeStream()
        let (release, releasing) = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await pool.withConnection { _ in
                holding.yield()
                for await _ in release { break }
            }
        }
        for await _ in held { break }
        return HeldConnection(holder: holder, releasing: releasing)
    }

    /// Gives the connection back to the pool and waits until it is returned.
    func release() async throws {
        releasing.yield()
        try await holder.value
    }
}
