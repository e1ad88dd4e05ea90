import Foundation
import LibPQ
import Logging
import Synchronization

/// A worker's settings, with documented defaults.
public struct WorkerConfiguration: Sendable {
    /// Runs driven at once.
    public var concurrency: Int
    /// How long a claimed run stays this worker's without a heartbeat; after that
    /// another worker may take it over (crash recovery).
    public var lease: Duration
    /// How often leases are renewed; well under ``lease``.
    public var heartbeat: Duration
    /// How often an idle worker looks for work without being notified (timers come due
    /// this way, and notifications missed while reconnecting are made up for).
    public var pollInterval: Duration

    public init(concurrency: Int = 8, lease: Duration = .seconds(30), heartbeat: Duration? = nil, pollInterval: Duration = .seconds(1)) {
        self.concurrency = max(1, concurrency)
        self.lease = lease
        self.heartbeat = heartbeat ?? lease / 3
        self.pollInterval = pollInterval
    }
}

/// Claims runnable runs of the registered workflow versions and drives them, up to
/// ``WorkerConfiguration/concurrency`` at once, until its task is cancelled.
///
/// Any number of workers in any number of processes share one database: claims use
/// `FOR UPDATE SKIP LOCKED`, leases are renewed by heartbeat, and a worker that dies
/// leaves its runs to be taken over when their leases expire. Idle workers wake on
/// `NOTIFY` and poll as a fallback.
///
/// Stopping (cancelling the task that runs ``run()``) is graceful: the worker stops
/// claiming and lets the runs it is driving reach their next wait or end.
public final class Worker: Sendable {
    public let store: RunStore
    public let registry: WorkflowRegistry
    public let configuration: WorkerConfiguration
    private let logger: Logger
    private let inFlight = Mutex<Set<UUID>>([])
    private let wakeUp = WakeSignal()

    public init(store: RunStore, registry: WorkflowRegistry, configuration: WorkerConfiguration = .init(), logger: Logger) {
        self.store = store
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
    }

    /// Works until cancelled, then returns once the runs in flight have stopped.
    public func run() async throws {
        let versions = registry.workflows.map { (name: $0.name, version: $0.version) }
        logger.info("worker started", metadata: [
            "worker": .string(store.workerID), "workflows": .string(versions.map { "\($0.name) v\($0.version)" }.joined(separator: ", ")),
        ])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.heartbeat() }
            group.addTask { await self.listen() }
            await withTaskGroup(of: Void.self) { drives in
                while !Task.isCancelled {
                    let free = configuration.concurrency - inFlight.withLock(\.count)
                    var claimed: [StoredRun] = []
                    if free > 0 {
                        do {
                            claimed = try await store.claim(versions: versions, limit: free, lease: configuration.lease)
                        } catch {
                            logger.warning("claiming failed; retrying", metadata: ["error": "\(error)"])
                        }
                    }
                    for run in claimed {
                        inFlight.withLock { _ = $0.insert(run.id) }
                        // Driving is not cancelled with the worker: a run stops at its next wait or end.
                        drives.addTask { await Task { await self.drive(run) }.value }
                    }
                    if free == 0 || claimed.count < free { await wakeUp.wait(upTo: configuration.pollInterval) }
                }
                await drives.waitForAll()
            }
            group.cancelAll()
        }
        logger.info("worker stopped", metadata: ["worker": .string(store.workerID)])
    }

    private func drive(_ run: StoredRun) async {
        defer {
            inFlight.withLock { _ = $0.remove(run.id) }
            wakeUp.signal()
        }
        guard let workflow = registry.workflow(named: run.workflow, version: run.version) else { return }
        do {
            let stop = try await RunDriver(store: store).drive(workflow.workflowType, run)
            if stop == .fencedOut {
                logger.notice("fenced out: another worker holds the run now; stopped without writing", metadata: ["run": .string(run.id.uuidString)])
            } else {
                logger.debug("run stopped", metadata: ["run": .string(run.id.uuidString), "stop": .string("\(stop)")])
            }
        } catch {
            // The lease runs out and the run is retried by whichever worker claims it next.
            logger.error("driving a run failed", metadata: ["run": .string(run.id.uuidString), "error": "\(error)"])
        }
    }

    private func heartbeat() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.heartbeat)
            let held = inFlight.withLock { Array($0) }
            do {
                _ = try await store.renewLeases(held, lease: configuration.lease)
            } catch {
                logger.warning("renewing leases failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Turns notifications on the ready channel into wake-ups; reconnects after a break.
    private func listen() async {
        while !Task.isCancelled {
            do {
                let listener = try await PostgresListener.listen(to: [RunStore.readyChannel], configuration: store.pool.configuration)
                wakeUp.signal()  // look once for work announced while not listening
                try await withTaskCancellationHandler {
                    for try await _ in listener.notifications { wakeUp.signal() }
                } onCancel: {
                    listener.stop()
                }
            } catch {
                logger.warning("listening for work failed; polling until it reconnects", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: configuration.pollInterval)
            }
        }
    }
}
