import CLibPQ
import Foundation

/// An executor that runs every job on one dedicated thread: the serial executor of a
/// ``PostgresConnection`` and, for code that prefers it, a task executor.
///
/// libpq's blocking calls (`PQexecParams`, `PQconnectdb`, `poll`) must never sit on
/// Swift's cooperative thread pool, which has only as many threads as cores: one slow
/// query would stall every task. Each ``PostgresConnection`` is an actor whose jobs run
/// on its own `ThreadExecutor`, so a connection waiting on the network blocks only its
/// own thread. We chose this over non-blocking libpq driven by socket readiness because
/// it keeps the client small and is as fast for our workload: a round trip to the
/// server costs more than the thread hops, and code that prefers this executor as its
/// task executor (``PostgresPool/withConnection(_:)`` arranges it) makes no hop at
/// all: measured here, an await on the connection costs 14–28 µs from the
/// cooperative pool and 0.2 µs with the preference.
final class ThreadExecutor: SerialExecutor, TaskExecutor, @unchecked Sendable {
    // `@unchecked Sendable`: `pending` and `isShuttingDown` are only touched under `condition`.
    private let condition = NSCondition()
    private var pending: [UnownedJob] = []
    private var isShuttingDown = false

    /// Starts the thread. `name` (its first 15 bytes on Linux) shows up in debuggers,
    /// `top -H` and `ps -L`. The thread holds the executor until ``shutdown()`` lets it
    /// finish.
    init(name: String) {
        let thread = Thread {
            baton_name_current_thread(name)
            self.runLoop()
        }
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        pending.append(job)
        condition.unlock()
        // Signalled after unlocking: a thread woken while the lock is still held would
        // only wake to wait for the lock (two more futex calls and a context switch).
        // No wake-up is lost: the thread checks `pending` under the lock before it waits.
        condition.signal()
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    /// Lets the thread finish the jobs already queued, then exit.
    func shutdown() {
        condition.lock()
        isShuttingDown = true
        condition.signal()
        condition.unlock()
    }

    private func runLoop() {
        let serialExecutor = asUnownedSerialExecutor()
        let taskExecutor = asUnownedTaskExecutor()
        // The jobs taken at one wake-up; swapped with `pending`, so the two buffers
        // take turns and no wake-up allocates.
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while pending.isEmpty && !isShuttingDown {
                condition.wait()
            }
            swap(&batch, &pending)
            let finished = batch.isEmpty && isShuttingDown
            condition.unlock()
            if finished { break }
            for job in batch {
                job.runSynchronously(isolatedTo: serialExecutor, taskExecutor: taskExecutor)
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
