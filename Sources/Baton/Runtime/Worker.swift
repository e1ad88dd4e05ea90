import Foundation
import LibPQ
import Logging
import Synchronization

/// A worker's settings, with documented defaults.
public struct WorkerConfiguration: Sendable {
    /// Runs driven at once. Each holds a connection of the store's pool while it is
    /// driven: give the pool `concurrency + 2` (claims and heartbeats need one too).
    public var concurrency: Int
    /// How long a claimed run stays this worker's without a heartbeat; after that
    /// another worker may take it over (crash recovery).
    public var lease: Duration
    /// How often leases are renewed; well under ``lease``.
    public var heartbeat: Duration
    /// How often an idle worker looks for work without being notified (timers come due
    /// this way, and notifications missed while reconnecting are made up for).
    public var pollInterval: Duration
    /// Runs claimed ahead of a free slot, so a slot that frees is refilled without
    /// waiting for a claim: `concurrency`, unless given. They are leased to this worker
    /// meanwhile, so a worker holds at most `concurrency + claimAhead` runs. Runs are
    /// claimed ahead only while this worker's drives are short (see
    /// ``Worker/shortDrive``): next to a drive of seconds (a model call) a claim's round
    /// trip is lost in the noise, and a run queued behind it would wait while another
    /// worker may be idle. A stopping worker gives them back at once.
    ///
    /// While runs are queued, claims take at least ``claimBatch`` runs at a time, so a
    /// worker sends one claim for several runs rather than one per run that ends.
    ///
    /// Measured with the engine benchmark of `ops/bench` (2 cores, fsync on), alternating
    /// rounds against the earlier default (`concurrency / 2` ahead, claimed one at a
    /// time): at 16 in flight 9,223-9,278 steps/s against 7,836-8,287, 51 µs of worker CPU
    /// a step against 66-69, 0.8 statements a run against 1.4; at 4 in flight 5,142-5,812
    /// against 4,913-5,864 in five pairs (within this machine's noise; an earlier hour read
    /// 6,153-6,841 against 5,615-5,958 in three); at 1 in flight no change.
    public var claimAhead: Int
    /// How long a stopping worker waits for the runs it drives to reach their next wait
    /// or end. After that it gives their leases up, so other workers take them over at
    /// once from their journals, and cancels their drives, whose writes are refused from
    /// then on: a step still running is not journaled, and runs again where the run is
    /// taken over. 30 seconds unless given (a Kubernetes pod gets 30 before `SIGKILL`).
    public var stopGrace: Duration
    /// In how many lanes the runs' transitions share commits (at most
    /// ``RunStore/commitLanes``): each slot commits in the lane with the fewest slots.
    /// Unless given, 2 for up to 4 runs at once and 1 above. With few runs in one lane,
    /// they all wait for one commit, then all act while the database idles; in two lanes
    /// one half acts and sends its commit while the other's waits for its WAL flush.
    /// With more runs, one lane's batches overlap by themselves (runs that return during
    /// a commit form the next), and two lanes only add commits.
    ///
    /// Measured with the engine benchmark of `ops/bench` (2 cores, fsync on), ratio to
    /// pgbench in alternating runs: at 2 runs in flight 0.86-0.90 in two lanes,
    /// 0.73-0.74 in one; at 4, 0.64-0.77 in two, 0.50-0.65 in one, 0.51-0.54 with no
    /// sharing (4 lanes); at 8, 0.69-0.72 in two, 0.71-0.77 in one; at 16, 0.73-0.77
    /// in two, 0.87-0.94 in one.
    public var commitLanes: Int

    public init(
        concurrency: Int = 8, lease: Duration = .seconds(30), heartbeat: Duration? = nil, pollInterval: Duration = .seconds(1),
        claimAhead: Int? = nil, stopGrace: Duration = .seconds(30), commitLanes: Int? = nil
    ) {
        self.concurrency = max(1, concurrency)
        self.lease = lease
        self.heartbeat = heartbeat ?? lease / 3
        self.pollInterval = pollInterval
        self.claimAhead = max(0, claimAhead ?? self.concurrency)
        self.stopGrace = max(.zero, stopGrace)
        self.commitLanes = min(RunStore.commitLanes, max(1, commitLanes ?? (concurrency <= 4 ? 2 : 1)))
    }

    /// The fewest runs a claim asks for while runs are queued: half of ``claimAhead``,
    /// at least 1. With none queued (every slot may soon want one) any free place is
    /// claimed at once.
    public var claimBatch: Int { max(1, claimAhead / 2) }
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
/// claiming, gives back the runs it claimed ahead and has not started, and lets the
/// runs it is driving reach their next wait or end, for at most
/// ``WorkerConfiguration/stopGrace``; runs still being driven then are given up.
public final class Worker: Sendable {
    public let store: RunStore
    public let registry: WorkflowRegistry
    /// The policies the registered workflows' approval states decide with.
    public let policies: PolicyBook
    /// The models the registered workflows' actions call, if any.
    public let models: ModelRouter?
    public let configuration: WorkerConfiguration
    private let logger: Logger
    private let holdings = Mutex(Holdings())
    private let wakeUp = WakeSignal()
    private let driveTasks = Mutex(DriveTasks())
    private let lanes: Mutex<CommitLanes>

    /// How short this worker's recent drives (a run driven to its next wait or end) must
    /// be, on average, for it to claim runs ahead of free slots
    /// (``WorkerConfiguration/claimAhead``).
    public static let shortDrive = Duration.milliseconds(100)

    public init(
        store: RunStore, registry: WorkflowRegistry, policies: PolicyBook = PolicyBook(), models: ModelRouter? = nil,
        configuration: WorkerConfiguration = .init(), logger: Logger
    ) {
        self.store = store
        self.registry = registry
        self.policies = policies
        self.models = models
        self.configuration = configuration
        self.logger = logger
        lanes = Mutex(CommitLanes(count: configuration.commitLanes))
    }

    /// Works until cancelled, then returns once the runs in flight have stopped, or have
    /// been given up when ``WorkerConfiguration/stopGrace`` passed.
    /// Throws at once if an approval state names a policy the worker was not given.
    public func run() async throws {
        try policies.check(covers: registry)
        let versions = registry.workflows.map { (name: $0.name, version: $0.version) }
        logger.info("worker started", metadata: [
            "worker": .string(store.workerID), "workflows": .string(versions.map { "\($0.name) v\($0.version)" }.joined(separator: ", ")),
        ])
        for model in models?.unpricedModels ?? [] {
            logger.warning("model \(model) has no price: its calls cost 0 in baton costs and count nothing against budgets")
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.heartbeat() }
            group.addTask { await self.listen() }
            group.addTask { await self.tickPolls() }
            await withTaskGroup(of: Void.self) { drives in
                while !Task.isCancelled {
                    let (held, claimsAhead) = holdings.withLock { ($0.count, $0.drivesAreShort) }
                    let wanted = configuration.concurrency + (claimsAhead ? configuration.claimAhead : 0) - held
                    // While runs are queued (wanted is then below claimAhead), claim in
                    // batches: one statement for several runs.
                    let claims = wanted >= (claimsAhead ? configuration.claimBatch : 1)
                    var claimed: [StoredRun] = []
                    if claims {
                        do {
                            let asked = ContinuousClock.now
                            claimed = try await store.claim(versions: versions, limit: wanted, lease: configuration.lease)
                            holdings.withLock { $0.leased(claimed.map(\.id), asked: asked, for: configuration.lease) }
                        } catch {
                            logger.warning("claiming failed; retrying", metadata: ["error": .string(oneLine(error))])
                        }
                    }
                    let starting = holdings.withLock { $0.add(claimed, slots: configuration.concurrency) }
                    for run in starting { drives.addTask { await self.drive(startingWith: run) } }
                    if !claims || claimed.count < wanted { await wakeUp.wait() }
                }
                // A stopping worker starts nothing new: the runs it claimed ahead are given
                // back, due now, so that other workers take them at once.
                await giveBack(holdings.withLock { $0.takeQueued() })
                let grace = Task {
                    guard (try? await Task.sleep(for: configuration.stopGrace)) != nil else { return }
                    await giveUpDrives()
                }
                await drives.waitForAll()
                grace.cancel()
            }
            group.cancelAll()
        }
        logger.info("worker stopped", metadata: ["worker": .string(store.workerID)])
    }

    /// Drives `run`, then the runs claimed ahead, one after another, while there are any,
    /// all on one connection and its thread: a run that follows another in its slot needs
    /// no pool checkout and no thread switch to start. A connection that is no longer
    /// ready (the database closed it, a failed drive left it mid-transaction) goes back to
    /// the pool, which lends a sound one.
    private func drive(startingWith run: StoredRun) async {
        let lane = lanes.withLock { $0.take() }
        defer { lanes.withLock { $0.give(lane) } }
        var next: Holdings.Next? = .claimed(run)
        while let first = next {
            do {
                try await store.pool.withConnection { connection in
                    let slot = store.bound(to: connection, lane: lane)
                    while let turn = next, await connection.isReadyForUse() {
                        await drive(turn, on: slot)
                        next = slotFinished(turn.runID)
                    }
                }
            } catch {
                // No connection to drive it on: given back like a run whose drive failed.
                await postpone(first.runID, after: error)
                next = slotFinished(first.runID)
            }
        }
    }

    /// Lets go of `runID`, which a slot is done with, wakes the claiming loop (there is
    /// room now) and returns what the slot drives next. A stopping worker starts no run it
    /// claimed ahead: those stay queued, to be given back.
    private func slotFinished(_ runID: UUID) -> Holdings.Next? {
        let stopping = Task.isCancelled
        defer { wakeUp.signal() }
        return holdings.withLock { $0.finished(runID, takingQueued: !stopping) }
    }

    /// Drives what a slot took next with `slot`, the store bound to the slot's connection.
    private func drive(_ turn: Holdings.Next, on slot: RunStore) async {
        switch turn {
        case .claimed(let run):
            await driveToItsNextStop(run, on: slot)
        case .claimedAgain(let runID):
            // Claimed again while this worker still drove it (its lease ran out meanwhile):
            // that claim's row is older than what the drive wrote since. Drive the run as
            // it stands now, if it is still this worker's and not finished.
            if let run = try? await slot.run(runID), run.leaseOwner == store.workerID, ["runnable", "waiting"].contains(run.status) {
                await driveToItsNextStop(run, on: slot)
            }
        }
    }

    /// Drives `run` with `slot` in a task of its own, on the thread of the slot's
    /// connection, which the worker's stop does not cancel: a run stops at its next wait
    /// or end, unless the stop grace passes first (``giveUpDrives()``).
    private func driveToItsNextStop(_ run: StoredRun, on slot: RunStore) async {
        let task = Task(executorPreference: slot.taskExecutor) { await self.drive(run, on: slot) }
        let givenUp = driveTasks.withLock { driving in
            driving.tasks[run.id] = task
            return driving.givenUp
        }
        if givenUp { task.cancel() }
        await task.value
        driveTasks.withLock { _ = $0.tasks.removeValue(forKey: run.id) }
    }

    /// The stop grace passed with runs still being driven: gives their leases up, so
    /// other workers take them over at once, then cancels their drives. Their writes
    /// are refused from the moment the leases are given up, so a step still running
    /// is not journaled here; it runs again where its run is taken over.
    private func giveUpDrives() async {
        let held = holdings.withLock { $0.giveUpAll() }
        do {
            let givenUp = try await store.giveUpLeases(on: held)
            logger.warning("stop grace passed: gave up the runs still being driven; other workers take them over", metadata: [
                "runs": "\(givenUp)", "grace_seconds": "\(configuration.stopGrace.seconds)",
            ])
        } catch {
            logger.warning("stop grace passed, and giving up the leases failed: they expire by themselves", metadata: [
                "runs": "\(held.count)", "error": .string(oneLine(error)),
            ])
        }
        let tasks = driveTasks.withLock { driving in
            driving.givenUp = true
            return Array(driving.tasks.values)
        }
        for task in tasks { task.cancel() }
    }

    /// Drives `run` with `slot`, on its connection's thread, so the run's statements
    /// need neither a pool checkout nor a thread switch.
    private func drive(_ run: StoredRun, on slot: RunStore) async {
        guard let workflow = registry.workflow(named: run.workflow, version: run.version) else { return }
        do {
            // A step starts only while this worker's lease, as its own clock sees it, lasts:
            // a worker paused past its lease (or cut off from its heartbeats) stops
            // before running a step another worker may have run meanwhile.
            let stop = try await RunDriver(store: slot, policies: policies, models: models, holdsLease: { [self, id = run.id] in
                holdings.withLock { $0.holdsLease(on: id) }
            }).drive(workflow.workflowType, run)
            if stop == .fencedOut, driveTasks.withLock(\.givenUp) {
                logGivenUp(run)
            } else if stop == .fencedOut {
                logger.notice("fenced out: another worker holds the run now; stopped without writing", metadata: ["run": .string(run.id.uuidString)])
            } else {
                logger.debug("run stopped", metadata: ["run": .string(run.id.uuidString), "stop": .string("\(stop)")])
            }
        } catch where driveTasks.withLock(\.givenUp) {
            logGivenUp(run, stoppedBy: error)
        } catch {
            await postpone(run.id, after: error)
        }
    }

    /// Gives up this worker's leases on `runs`, claimed ahead and not started, as it
    /// stops. If that fails, their leases expire by themselves.
    private func giveBack(_ runs: [UUID]) async {
        guard !runs.isEmpty else { return }
        // In a task of its own: the stop cancelled this one, and a cancelled task can't
        // wait for a connection of the pool.
        do {
            let givenBack = try await Task { try await store.giveUpLeases(on: runs) }.value
            logger.info("stopping: gave back the runs claimed ahead", metadata: ["runs": "\(givenBack)"])
        } catch {
            logger.warning("stopping: giving back the runs claimed ahead failed: their leases expire by themselves", metadata: [
                "runs": "\(runs.count)", "error": .string(oneLine(error)),
            ])
        }
    }

    /// Gives back a run that could not be driven (`error`) with a growing delay, so a run
    /// that can't be driven (a bug, a context that no longer decodes) does not take a
    /// worker at every lease expiry.
    private func postpone(_ runID: UUID, after error: any Error) async {
        let failures = try? await store.postpone(runID, after: oneLine(error))
        logger.error("driving a run failed; it is retried later", metadata: [
            "run": .string(runID.uuidString), "error": .string(oneLine(error)), "failures": "\(failures.map(String.init) ?? "?")",
        ])
    }

    /// Says that `run`, given up at the stop grace, stopped (by `error`, if its drive threw).
    private func logGivenUp(_ run: StoredRun, stoppedBy error: (any Error)? = nil) {
        var metadata: Logger.Metadata = ["run": .string(run.id.uuidString)]
        if let error { metadata["stopped by"] = .string(oneLine(error)) }
        logger.notice("given up at the stop grace; another worker takes it over", metadata: metadata)
    }

    private func heartbeat() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.heartbeat)
            let held = holdings.withLock { Array($0.held.keys) }
            do {
                let asked = ContinuousClock.now
                let kept = try await store.renewLeases(held, lease: configuration.lease)
                holdings.withLock { $0.renewed(kept, of: held, asked: asked, for: configuration.lease) }
            } catch {
                logger.warning("renewing leases failed", metadata: ["error": .string(oneLine(error))])
            }
        }
    }

    /// Wakes the claiming loop every poll interval, so an idle worker looks for work
    /// without being notified (timers come due this way). One task for the worker's
    /// life: a timer task per wait cost a task, a timer and two thread wake-ups per run.
    private func tickPolls() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.pollInterval)
            wakeUp.signal()
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
                logger.warning("listening for work failed; polling until it reconnects", metadata: ["error": .string(oneLine(error))])
                try? await Task.sleep(for: configuration.pollInterval)
            }
        }
    }
}

/// The tasks driving runs, by run, and whether the worker has been stopped for longer
/// than its stop grace (`givenUp`).
private struct DriveTasks {
    var tasks: [UUID: Task<Void, Never>] = [:]
    var givenUp = false
}

/// How many of a worker's slots commit in each lane (``WorkerConfiguration/commitLanes``).
private struct CommitLanes {
    private var slots: [Int]

    init(count: Int) {
        slots = Array(repeating: 0, count: count)
    }

    /// The lane a slot that starts commits in: the one with the fewest slots.
    mutating func take() -> Int {
        let lane = slots.indices.min { slots[$0] < slots[$1] } ?? 0
        slots[lane] += 1
        return lane
    }

    /// A slot in `lane` stopped.
    mutating func give(_ lane: Int) {
        slots[lane] -= 1
    }
}

/// The runs a worker holds: being driven, or claimed ahead and queued for a slot.
private struct Holdings {
    /// Every run leased to this worker that it has not let go yet, and how many times:
    /// a run released by its driver can be claimed again before that driver is done
    /// (an event woke it), and that claim must be driven too.
    private(set) var held: [UUID: Int] = [:]
    private var queued: [StoredRun] = []
    /// Runs claimed again while queued or being driven: each goes on, re-read, in the
    /// slot of the drive before it once that one is done, never beside it.
    private var claimedAgain: Set<UUID> = []

    /// What a slot drives next.
    enum Next {
        case claimed(StoredRun)
        /// A run claimed again while this worker held it: re-read it before driving.
        case claimedAgain(UUID)

        var runID: UUID {
            switch self {
            case .claimed(let run): run.id
            case .claimedAgain(let id): id
            }
        }
    }
    private var driving = 0
    /// When each run being driven started.
    private var driveStarts: [UUID: ContinuousClock.Instant] = [:]
    /// How long this worker's recent drives took: a moving average, each new drive a
    /// quarter of it; nil before the first drive ends.
    private var recentDrive: Duration?
    /// When this worker's lease on each held run ends by its own clock: measured from
    /// before the statement that took or renewed it, so never later than the database's.
    private var leaseEnds: [UUID: ContinuousClock.Instant] = [:]

    /// Records leases `runs` got from a claim sent at `asked`.
    mutating func leased(_ runs: [UUID], asked: ContinuousClock.Instant, for lease: Duration) {
        for run in runs { leaseEnds[run] = asked + lease }
    }

    /// Records a heartbeat sent at `asked` for `asked` runs: those `kept` are extended,
    /// the others are lost (taken over, or finished) and count as expired.
    mutating func renewed(_ kept: Set<UUID>, of runs: [UUID], asked: ContinuousClock.Instant, for lease: Duration) {
        for run in runs where leaseEnds[run] != nil {
            leaseEnds[run] = kept.contains(run) ? asked + lease : asked
        }
    }

    /// Whether this worker's lease on `run` lasts, by its own clock.
    func holdsLease(on run: UUID) -> Bool {
        leaseEnds[run].map { ContinuousClock.now < $0 } ?? false
    }

    /// Runs being driven or queued.
    var count: Int { driving + queued.count }

    /// Whether recent drives were short enough to claim runs ahead (``Worker/shortDrive``);
    /// true until a drive has ended.
    var drivesAreShort: Bool { recentDrive.map { $0 < Worker.shortDrive } ?? true }

    /// Takes newly claimed runs; returns those that start now, in free slots.
    mutating func add(_ claimed: [StoredRun], slots: Int) -> [StoredRun] {
        for run in claimed {
            if held[run.id] != nil, !claimedAgain.contains(run.id) {
                // Two drives of one run at once would both act on it; the second waits.
                claimedAgain.insert(run.id)
                held[run.id, default: 0] += 1
                continue
            }
            guard held[run.id] == nil else { continue }
            held[run.id] = 1
            queued.append(run)
        }
        let starting = Array(queued.prefix(max(0, slots - driving)))
        queued.removeFirst(starting.count)
        driving += starting.count
        let now = ContinuousClock.now
        for run in starting { driveStarts[run.id] = now }
        return starting
    }

    /// Lets go of a run that stopped; returns what its slot drives next, if anything:
    /// the same run if it was claimed again meanwhile, else the oldest queued run unless
    /// `takingQueued` is false (the worker is stopping and gives the queued runs back).
    mutating func finished(_ run: UUID, takingQueued: Bool) -> Next? {
        let now = ContinuousClock.now
        if let started = driveStarts.removeValue(forKey: run) {
            let drive = now - started
            recentDrive = recentDrive.map { ($0 * 3 + drive) / 4 } ?? drive
        }
        held[run] = held[run].flatMap { $0 > 1 ? $0 - 1 : nil }
        let next: Next?
        if claimedAgain.remove(run) != nil {
            next = .claimedAgain(run)
        } else {
            if held[run] == nil { leaseEnds[run] = nil }
            if takingQueued, !queued.isEmpty {
                next = .claimed(queued.removeFirst())
            } else {
                driving -= 1
                next = nil
            }
        }
        if let next { driveStarts[next.runID] = now }
        return next
    }

    /// Gives up every lease (the stop grace passed): no step starts from now on. Returns
    /// the runs held.
    mutating func giveUpAll() -> [UUID] {
        leaseEnds = [:]
        return Array(held.keys)
    }

    /// Lets go of the runs claimed ahead and not started (the worker is stopping).
    mutating func takeQueued() -> [UUID] {
        defer { queued = [] }
        for run in queued {
            held[run.id] = nil
            leaseEnds[run.id] = nil
            claimedAgain.remove(run.id)
        }
        return queued.map(\.id)
    }
}
