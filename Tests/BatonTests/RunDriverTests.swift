import Baton
import BatonExamples
import BatonTesting
import Foundation
import LibPQ
import Synchronization
import Testing

/// How many times each step body ran, by idempotency key.
let stepExecutions = Mutex<[String: Int]>([:])

/// Holds a paused action until the test lets it go on.
let pausedAction = Gate()

actor Gate {
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    private var opened: Set<String> = []
    private var arrived: Set<String> = []

    func wait(_ key: String) async {
        arrived.insert(key)
        if opened.contains(key) { return }
        await withCheckedContinuation { waiters[key, default: []].append($0) }
    }

    func hasArrived(_ key: String) -> Bool { arrived.contains(key) }

    /// Lets every waiter on `key` go on, and those that come later.
    func open(_ key: String) {
        opened.insert(key)
        for waiter in waiters.removeValue(forKey: key) ?? [] { waiter.resume() }
    }
}

struct Unavailable: Error, CustomStringConvertible {
    var description: String { "ERP unavailable" }
}

/// Reserve stock (a step), wait for a carrier (an event, with a timeout), ship (a
/// step), cool down (a timer), done.
struct Fulfilment: Workflow {
    static let name = "fulfilment"
    static let version = 1
    struct Context: Codable, Sendable {
        var orderID: String
        var failReserve = false
        var pauseAfterReserve = false
        /// How long reserving takes: 10 ms or more and its output is journaled at once.
        var reserveMilliseconds = 0
        /// Journal the reservation with the transition, however long it took.
        var reserveJournaledWithTransition = false
        var reserved: Int?
        var label: String?
    }
    enum State: String, WorkflowState { case reserve, awaitCarrier, ship, cooldown, done, failed, cancelled }

    static var definition: Definition<Self> {
        Definition(initial: .reserve) {
            Action(.reserve, to: .awaitCarrier, onError: .failed) { run in
                let units = try await run.step(
                    "reserve-stock", retry: RetryPolicy(maxAttempts: 2, initialInterval: .milliseconds(1)),
                    journal: run.context.reserveJournaledWithTransition ? .withNextCommit : .automatic
                ) { attempt in
                    stepExecutions.withLock { $0[attempt.idempotencyKey, default: 0] += 1 }
                    if run.context.failReserve { throw Unavailable() }
                    try await Task.sleep(for: .milliseconds(run.context.reserveMilliseconds))
                    return 3
                }
                if run.context.pauseAfterReserve { await pausedAction.wait(run.context.orderID) }
                run.context.reserved = units
                return .awaitCarrier
            }
            Wait(.awaitCarrier, on: ["carrier-booked": .ship], timeout: .after(.seconds(3600), goto: .cancelled))
            Action(.ship, to: .cooldown) { run in
                run.context.label = try await run.step("print-label") { attempt in
                    stepExecutions.withLock { $0[attempt.idempotencyKey, default: 0] += 1 }
                    return "LBL-\(run.context.orderID)"
                }
                return .cooldown
            }
            Sleep(.cooldown, for: .seconds(60), then: .done)
            Terminal(.done)
            Terminal(.failed, outcome: .failed)
            Terminal(.cancelled, outcome: .cancelled)
        }
    }
}

@Suite("Driving runs: steps, events, timers, cancellation, fencing", .tags(.database))
struct RunDriverTests {
    let versions = [(name: Fulfilment.name, version: Fulfilment.version)]

    func claimAndDrive(_ store: RunStore) async throws -> RunDriver.Stop? {
        guard let run = try await store.claim(versions: versions, limit: 1, lease: .seconds(30)).first else { return nil }
        return try await RunDriver(store: store).drive(Fulfilment.self, run)
    }

    func journal(_ store: RunStore, _ id: UUID) async throws -> [String] {
        try await store.journal(of: id).map(\.record.description)
    }

    func executions(_ id: UUID, visit: Int, _ step: String) -> Int {
        stepExecutions.withLock { $0["\(id.uuidString.lowercased()):\(visit):\(step)"] ?? 0 }
    }

    @Test func aRunGoesThroughStepsAnEventAndATimerToTheEnd() async throws {
        try await withMigratedStore { store, clockwork in
            let id = try await store.start(Fulfilment.self, context: .init(orderID: "A-1")).runID
            #expect(try await claimAndDrive(store) == .waiting)
            #expect(try await claimAndDrive(store) == nil)  // waiting runs are not claimable
            try await store.send("carrier-booked", to: id, payload: #"{"carrier": "DHL"}"#)
            #expect(try await claimAndDrive(store) == .waiting)  // now sleeping in cooldown
            let later = try await clockwork.store(at: "2 minutes")
            #expect(try await claimAndDrive(later) == .finished(.succeeded))
            #expect(try await journal(store, id) == [
                "run-started reserve",
                "step-completed reserve [reserve-stock]",
                "transition reserve -> awaitCarrier (returned)",
                "event-received awaitCarrier (carrier-booked)",
                "transition awaitCarrier -> ship (carrier-booked)",
                "step-completed ship [print-label]",
                "transition ship -> cooldown (returned)",
                "timer-fired cooldown (slept)",
                "transition cooldown -> done (slept)",
                "run-finished done (succeeded)",
            ])
            let run = try #require(try await store.run(id))
            let context = try run.decodeContext(as: Fulfilment.self)
            #expect((context.reserved, context.label) == (3, "LBL-A-1"))
            #expect(executions(id, visit: 1, "reserve-stock") == 1)
            #expect(executions(id, visit: 3, "print-label") == 1)
            let payload = try await clockwork.connection.query("""
                SELECT payload->>'carrier' FROM baton.journal WHERE run_id = \(id) AND kind = 'event-received'
                """).scalar(String.self)
            #expect(payload == "DHL")
            let verification = try await store.verify()
            #expect(verification.runs == 1)
            #expect(verification.mismatches.isEmpty)
        }
    }

    @Test func verifyReportsARunRowThatIsNotTheFoldOfItsJournal() async throws {
        try await withMigratedStore { store, clockwork in
            let id = try await store.start(Fulfilment.self, context: .init(orderID: "A-7")).runID
            #expect(try await claimAndDrive(store) == .waiting)
            #expect(try await store.verify(id).mismatches.isEmpty)
            try await clockwork.connection.query("""
                UPDATE baton.runs SET state = 'ship', context = jsonb_set(context, '{reserved}', '99') WHERE id = \(id)
                """)
            let mismatches = try await store.verify(id).mismatches
            #expect(mismatches.map(\.field) == ["state", "context"])
            #expect(mismatches.first?.description == "run \(id): state is ship in baton.runs but awaitCarrier by its journal")
        }
    }

    @Test func anEventSentBeforeTheRunWaitsIsKeptAndConsumedOnce() async throws {
        try await withMigratedStore { store, clockwork in
            let id = try await store.start(Fulfilment.self, context: .init(orderID: "A-2")).runID
            try await store.send("carrier-booked", to: id)
            try await store.send("carrier-booked", to: id)
            #expect(try await claimAndDrive(store) == .waiting)
            #expect(try await journal(store, id).contains("transition awaitCarrier -> ship (carrier-booked)"))
            let inbox = try await clockwork.connection.query("""
                SELECT count(*) FILTER (WHERE consumed_seq IS NOT NULL), count(*) FILTER (WHERE consumed_seq IS NULL)
                FROM baton.events WHERE run_id = \(id)
                """)[0]
            #expect(try inbox.decode(Int.self, at: 0) == 1)
            #expect(try inbox.decode(Int.self, at: 1) == 1)
        }
    }

    @Test func aStepThatFailsItsLastAttemptTakesTheErrorTransition() async throws {
        try await withMigratedStore { store, _ in
            let id = try await store.start(Fulfilment.self, context: .init(orderID: "A-3", failReserve: true)).runID
            #expect(try await claimAndDrive(store) == .finished(.failed))
            #expect(try await journal(store, id) == [
                "run-started reserve",
                "step-failed reserve [reserve-stock]: ERP unavailable",
                "transition reserve -> failed (error): step reserve-stock failed after 2 attempts: ERP unavailable",
                "run-finished failed (failed)",
            ])
            // Both attempts carried the same idempotency key.
            #expect(executions(id, visit: 1, "reserve-stock") == 2)
        }
    }

    @Test func aDatabaseFailureWhileJournalingAStepFailsTheDriveNotTheRun() async throws {
        try await withMigratedStore { store, clockwork in
            // A step of 20 ms is journaled as soon as it ends, on its own; the database
            // refuses that write (as a full disk or a restart would make it fail).
            try await clockwork.connection.runScript("""
                CREATE FUNCTION refuse_step_output() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'no space left on device (test)'; END $$;
                CREATE TRIGGER refuse_step_output BEFORE INSERT ON baton.journal
                    FOR EACH ROW WHEN (NEW.kind = 'step-completed') EXECUTE FUNCTION refuse_step_output();
                """)
            let id = try await store.start(TenSteps.self, context: .init(stepMilliseconds: 20)).runID
            let tenSteps = [(name: TenSteps.name, version: TenSteps.version)]
            let run = try #require(try await store.claim(versions: tenSteps, limit: 1, lease: .seconds(30)).first)
            // The drive fails, as a lost connection would make it: the run neither takes
            // an error transition nor fails; it is left to be driven again.
            await #expect(throws: (any Error).self) { try await RunDriver(store: store).drive(TenSteps.self, run) }
            #expect(try await journal(store, id) == ["run-started step1"])
            #expect(try await store.run(id)?.status == "runnable")
            // Once the database takes writes again, the run goes on from its journal.
            try await clockwork.connection.runScript("DROP TRIGGER refuse_step_output ON baton.journal")
            #expect(try await RunDriver(store: store).drive(TenSteps.self, run) == .finished(.succeeded))
        }
    }

    @Test func aWaitWhoseTimeoutPassesTakesTheTimeoutTransition() async throws {
        try await withMigratedStore { store, clockwork in
            let id = try await store.start(Fulfilment.self, context: .init(orderID: "A-4")).runID
            #expect(try await claimAndDrive(store) == .waiting)
            #expect(try await claimAndDrive(try await clockwork.store(at: "59 minutes")) == nil)
            #expect(try await claimAndDrive(try await clockwork.store(at: "61 minutes")) == .finished(.cancelled))
            #expect(try await journal(store, id).suffix(3) == [
                "timer-fired awaitCarrier (timeout)",
                "transition awaitCarrier -> cancelled (timeout)",
                "run-finished cancelled (cancelled)",
            ])
        }
    }

    @Test func cancellingAWaitingRunAndRefusingWorkForAFinishedOne() async throws {
        try await withMigratedStore { store, clockwork in
            let id = try await store.start(Fulfilment.self, context: .init(orderID: "A-5")).runID
            #expect(try await claimAndDrive(store) == .waiting)
            try await store.requestCancel(id, reason: "customer withdrew")
            #expect(try await claimAndDrive(store) == .finished(.cancelled))
            #expect(try await journal(store, id).last == "run-finished awaitCarrier (cancelled): customer withdrew")
            let journalLength = try await journal(store, id).count
            let lateEvent = await #expect(throws: BatonError.self) { try await store.send("carrier-booked", to: id) }
            #expect(lateEvent?.message == "run \(id) has finished (cancelled); it takes no more events")
            await #expect(throws: BatonError.self) { try await store.requestCancel(id, reason: "again") }
            await #expect(throws: BatonError.self) { try await store.send("carrier-booked", to: UUID()) }
            #expect(try await journal(store, id).count == journalLength)
            let events = try await clockwork.connection.query("SELECT count(*) FROM baton.events").scalar(Int.self)
            #expect(events == 0)
        }
    }

    @Test func anEventOrCancelThatArrivesWhileAWorkerHoldsAWaitingRunWakesItWhenReleased() async throws {
        try await withMigratedStore { store, _ in
            let id = try await store.start(Fulfilment.self, context: .init(orderID: "A-8")).runID
            #expect(try await claimAndDrive(store) == .waiting)
            try await store.send("unrelated", to: id)  // not awaited: the run stays asleep
            #expect(try await claimAndDrive(store) == nil)
            // Claimed as it wakes for a cancel request; meanwhile nothing else arrives.
            try await store.requestCancel(id, reason: "first")
            let claimed = try #require(try await store.claim(versions: versions, limit: 1, lease: .seconds(30)).first)
            // A release by a worker that saw no cancel (an older claim) must not put it back to sleep.
            try await store.release(claimed, expectedSeq: claimed.seq)
            #expect(try await claimAndDrive(store) == .finished(.cancelled))
        }
    }

    @Test func aWorkerThatLostItsLeaseIsFencedOutAndTheJournaledStepIsNotRunAgain() async throws {
        try await withMigratedStore { store, clockwork in
            // A step that takes 10 ms or more is journaled as soon as it ends.
            let context = Fulfilment.Context(orderID: "A-6", pauseAfterReserve: true, reserveMilliseconds: 15)
            let id = try await store.start(Fulfilment.self, context: context).runID
            // Worker a journals the step, then stalls before its transition.
            let stalled = Task { try await claimAndDrive(store) }
            while !(await pausedAction.hasArrived("A-6")) { try await Task.sleep(for: .milliseconds(10)) }
            // Its lease runs out and worker b takes the run over.
            let takeover = try await clockwork.store(at: "1 minute", worker: "b")
            let claimed = try #require(try await takeover.claim(versions: versions, limit: 1, lease: .seconds(30)).first)
            // Worker a wakes up: its transition is refused and it stops.
            await pausedAction.open("A-6")
            #expect(try await stalled.value == .fencedOut)
            // Worker b gets the step's output from the journal and finishes the visit.
            #expect(try await RunDriver(store: takeover).drive(Fulfilment.self, claimed) == .waiting)
            #expect(executions(id, visit: 1, "reserve-stock") == 1)
            let entries = try await store.journal(of: id)
            #expect(entries.map(\.record.description) == [
                "run-started reserve",
                "step-completed reserve [reserve-stock]",
                "transition reserve -> awaitCarrier (returned)",
            ])
            #expect(entries.map(\.workerID) == ["a", "a", "b"])
            #expect(entries.map(\.seq) == [1, 2, 3])
        }
    }

    @Test func aStepJournaledWithItsTransitionRunsAgainWithTheSameKeyIfThatNeverCommits() async throws {
        try await withMigratedStore { store, clockwork in
            let context = Fulfilment.Context(orderID: "A-9", pauseAfterReserve: true, reserveJournaledWithTransition: true)
            let id = try await store.start(Fulfilment.self, context: context).runID
            // Worker a runs the step, then stalls before its transition: the step's
            // output waits for that commit.
            let stalled = Task { try await claimAndDrive(store) }
            while !(await pausedAction.hasArrived("A-9")) { try await Task.sleep(for: .milliseconds(10)) }
            #expect(try await journal(store, id) == ["run-started reserve"])
            let takeover = try await clockwork.store(at: "1 minute", worker: "b")
            let claimed = try #require(try await takeover.claim(versions: versions, limit: 1, lease: .seconds(30)).first)
            await pausedAction.open("A-9")
            #expect(try await stalled.value == .fencedOut)
            // Worker b runs the step again under the same idempotency key, and journals
            // it once, in the transition's commit.
            #expect(try await RunDriver(store: takeover).drive(Fulfilment.self, claimed) == .waiting)
            #expect(executions(id, visit: 1, "reserve-stock") == 2)
            let entries = try await store.journal(of: id)
            #expect(entries.map(\.record.description) == [
                "run-started reserve",
                "step-completed reserve [reserve-stock]",
                "transition reserve -> awaitCarrier (returned)",
            ])
            #expect(entries.map(\.workerID) == ["a", "b", "b"])
            let outputs = try await clockwork.connection.query("SELECT count(*) FROM baton.step_outputs WHERE run_id = \(id)")
            #expect(try outputs.scalar(Int.self) == 1)
        }
    }
}

/// The backend a test wants cut off while a step runs.
let backendToTerminate = Mutex<Int32?>(nil)
/// The connection that cuts it off.
let terminator = Mutex<PostgresConfiguration?>(nil)

/// One slow step (journaled as soon as it ends) that cuts the driving worker's
/// connection off the first time it runs.
struct CutOff: Workflow {
    static let name = "cut-off"
    static let version = 1
    struct Context: Codable, Sendable { var done = false }
    enum State: String, WorkflowState { case work, done, failed }

    static var definition: Definition<Self> {
        Definition(initial: .work) {
            Action(.work, to: .done, onError: .failed) { run in
                run.context.done = try await run.step("slow", retry: RetryPolicy(maxAttempts: 3, initialInterval: .milliseconds(1))) { attempt in
                    stepExecutions.withLock { $0[attempt.idempotencyKey, default: 0] += 1 }
                    if let pid = backendToTerminate.withLock({ $0 }), let configuration = terminator.withLock({ $0 }) {
                        backendToTerminate.withLock { $0 = nil }
                        let connection = try await PostgresConnection.connect(to: configuration)
                        _ = try await connection.query("SELECT pg_terminate_backend(\(pid))")
                        await connection.close()
                    }
                    try await Task.sleep(for: .milliseconds(15))
                    return true
                }
                return .done
            }
            Terminal(.done)
            Terminal(.failed, outcome: .failed)
        }
    }
}

@Suite("A database failure while journaling a step", .tags(.database), .serialized)
struct JournalingFailureTests {
    @Test func isTheDrivesFailureNotTheStepsAndTheRunGoesOnLater() async throws {
        try await withMigratedStore { store, clockwork in
            let run = try await store.start(CutOff.self, context: .init()).runID
            let claimed = try #require(try await store.claim(versions: [(name: CutOff.name, version: 1)], limit: 1, lease: .seconds(30)).first)
            let connection = try await PostgresConnection.connect(to: clockwork.configuration)
            backendToTerminate.withLock { $0 = nil }
            let pid = try await connection.query("SELECT pg_backend_pid()").scalar(Int32.self)
            terminator.withLock { $0 = clockwork.configuration }
            backendToTerminate.withLock { $0 = pid }
            // The step ends, its journaling finds the connection gone: the drive fails,
            // and no step failure is journaled (the step did not fail).
            let error = await #expect(throws: (any Error).self) {
                _ = try await RunDriver(store: store.bound(to: connection)).drive(CutOff.self, claimed)
            }
            #expect(error.map { "\($0)".contains("lost the connection") } == true)
            await connection.close()
            #expect(try await store.journal(of: run).map(\.record.description) == ["run-started work"])
            #expect(try await store.run(run)?.status == "runnable")
            // The next drive runs the unjournaled step again and finishes.
            #expect(try await RunDriver(store: store).drive(CutOff.self, claimed) == .finished(.succeeded))
            let key = "\(run.uuidString.lowercased()):1:slow"
            #expect(stepExecutions.withLock { $0[key] } == 2)
            #expect(try await store.verify(run).mismatches.isEmpty)
        }
    }
}
