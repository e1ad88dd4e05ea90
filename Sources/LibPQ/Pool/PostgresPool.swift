/// A bounded set of connections shared by many tasks.
///
/// At most `maxConnections` are open at once; tasks that find none free wait and are
/// served in the order they arrived. A connection the server closed while it sat idle
/// (restart, `pg_terminate_backend`) is noticed when it is next taken, discarded and
/// replaced; one that broke while in use is discarded when it comes back.
///
/// ```swift
/// let pool = PostgresPool(configuration: configuration, maxConnections: 8)
/// let count = try await pool.withConnection { try await $0.query("SELECT count(*) FROM runs").scalar(Int.self) }
/// ```
public actor PostgresPool {
    public nonisolated let configuration: PostgresConfiguration
    public nonisolated let maxConnections: Int
    private var idle: [PostgresConnection] = []
    /// Open connections and connections being opened, idle or not.
    private var openCount = 0
    private var waiters: [CheckedContinuation<PostgresConnection, any Error>] = []
    private var nextWaiter = 0
    private var isClosed = false

    public init(configuration: PostgresConfiguration, maxConnections: Int) {
        precondition(maxConnections > 0, "a pool needs at least one connection")
        self.configuration = configuration
        self.maxConnections = maxConnections
    }

    /// Lends `body` a connection and takes it back when `body` returns or throws.
    /// A connection left inside a transaction is discarded, not reused.
    ///
    /// `body` prefers the connection's thread as its task executor, so its statements
    /// run without a thread switch each (a nonisolated `body` runs on that thread).
    nonisolated(nonsending) public func withConnection<Result>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let connection = try await checkOut()
        do {
            let result = try await withTaskExecutorPreference(connection.taskExecutor) {
                try await body(connection)
            }
            await checkIn(connection)
            return result
        } catch {
            await checkIn(connection)
            throw error
        }
    }

    /// Closes idle connections and fails every waiting task; later calls fail with
    /// ``PostgresError/Code-swift.struct/poolClosed``. Lent connections close when returned.
    public func close() {
        isClosed = true
        idle.removeAll()
        let pending = waiters[nextWaiter...]
        waiters.removeAll()
        nextWaiter = 0
        for waiter in pending {
            waiter.resume(throwing: PostgresError(code: .poolClosed, message: "the pool for \(configuration) is closed"))
        }
    }

    private func checkOut() async throws -> PostgresConnection {
        while !isClosed, let connection = idle.popLast() {
            if await connection.isReadyForUse() { return connection }
            openCount -= 1
        }
        guard !isClosed else {
            throw PostgresError(code: .poolClosed, message: "the pool for \(configuration) is closed")
        }
        if openCount < maxConnections {
            openCount += 1
            do {
                return try await PostgresConnection.connect(to: configuration)
            } catch {
                openCount -= 1
                throw error
            }
        }
        return try await withCheckedThrowingContinuation { waiters.append($0) }
    }

    private func checkIn(_ connection: PostgresConnection) async {
        let reusable = await connection.isReadyForUse()
        if !reusable || isClosed {
            openCount -= 1
            if !isClosed, let waiter = takeWaiter() {
                openCount += 1
                Task { await self.openConnection(for: waiter) }
            }
            return
        }
        if let waiter = takeWaiter() {
            waiter.resume(returning: connection)
        } else {
            idle.append(connection)
        }
    }

    private func openConnection(for waiter: CheckedContinuation<PostgresConnection, any Error>) async {
        do {
            waiter.resume(returning: try await PostgresConnection.connect(to: configuration))
        } catch {
            openCount -= 1
            waiter.resume(throwing: error)
        }
    }

    private func takeWaiter() -> CheckedContinuation<PostgresConnection, any Error>? {
        guard nextWaiter < waiters.count else { return nil }
        let waiter = waiters[nextWaiter]
        nextWaiter += 1
        if nextWaiter == waiters.count {
            waiters.removeAll(keepingCapacity: true)
            nextWaiter = 0
        }
        return waiter
    }
}
