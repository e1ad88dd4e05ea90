/// A bounded set of connections shared by many tasks.
///
/// At most `maxConnections` are open at once; tasks that find none free wait and are
/// served in the order they arrived. A connection the server closed while it sat idle
/// (restart, `pg_terminate_backend`) is noticed when it is next taken, discarded and
/// replaced; one that broke while in use is discarded when it comes back. A task
/// cancelled while it waits leaves the queue at once with `CancellationError`.
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
    /// Tasks waiting for a connection, first come first served.
    private var waiters: [Waiter] = []
    private var nextWaiterID = 0
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
    @discardableResult
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
        let pending = waiters
        waiters.removeAll()
        for waiter in pending {
            waiter.continuation.resume(throwing: PostgresError(code: .poolClosed, message: "the pool for \(configuration) is closed"))
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
        let id = nextWaiterID
        nextWaiterID += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiters.append(Waiter(id: id, continuation: continuation))
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }  // already served
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    private func checkIn(_ connection: PostgresConnection) async {
        let reusable = await connection.isReadyForUse()
        if !reusable || isClosed {
            openCount -= 1
            openConnectionForNextWaiter()
        } else if !waiters.isEmpty {
            waiters.removeFirst().continuation.resume(returning: connection)
        } else {
            idle.append(connection)
        }
    }

    /// Opens a connection for the first waiter, when there is room. If that fails the
    /// waiter gets the error and the next waiter gets its own attempt, so no waiter is
    /// left behind with no connection to wait for.
    private func openConnectionForNextWaiter() {
        guard !isClosed, openCount < maxConnections, !waiters.isEmpty else { return }
        openCount += 1
        let waiter = waiters.removeFirst()
        Task {
            do {
                waiter.continuation.resume(returning: try await PostgresConnection.connect(to: configuration))
            } catch {
                openCount -= 1
                waiter.continuation.resume(throwing: error)
                openConnectionForNextWaiter()
            }
        }
    }
}

/// A task waiting for a connection.
private struct Waiter {
    let id: Int
    let continuation: CheckedContinuation<PostgresConnection, any Error>
}
