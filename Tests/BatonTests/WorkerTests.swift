import Baton
import BatonExamples
import BatonTesting
import Foundation
import LibPQ
import Logging
import Testing

/// Three action states, one step each.
struct Relay: Workflow {
    static let name = "relay"
    static let version = 1
    struct Context: Codable, Sendable { var legs: [String] = [] }
    enum State: String, WorkflowState { case first, second, third, done }

    static func leg(_ name: String, then next: State) -> ActionBody<Relay> {
        { run in
            let leg = try await run.step(name) { attempt in
                stepExecutions.withLock { $0[attempt.idempotencyKey, default: 0] += 1 }
                return name
            }
            run.context.legs.append(leg)
            return next
        }
    }

    static var definition: Definition<Self> {
        Definition(initial: .first) {
            Action(.first, to: .second, body: leg("first", then: .second))
            Action(.second, to: .third, body: leg("second", then: .third))
            Action(.third, to: .done, body: leg("third", then: .done))
            Terminal(.done)
        }
    }
}

@Suite("Workers", .tags(.database))
struct WorkerTests {
    func registry() throws -> WorkflowRegistry {
        var registry = WorkflowRegistry()
        try registry.register(Relay.self)
        return registry
    }

    func unfinished(_ connection: PostgresConnection) async throws -> Int {
        try await connection.query("SELECT count(*) FROM baton.runs WHERE status IN ('runnable', 'waiting')").scalar(Int.self)
    }

    @Test func twoWorkersDriveEveryRunToItsEndAndRunEachStepOnce() async throws {
        try await withMigratedStore { store, clockwork in
            var ids: [UUID] = []
            for _ in 0..<40 { ids.append(try await store.start(Relay.self, context: .init()).runID) }
            let workers = try ["w1", "w2"].map {
                Worker(store: RunStore(pool: store.pool, workerID: $0), registry: try registry(),
                       configuration: .init(concurrency: 4, pollInterval: .milliseconds(200)), logger: Logger(label: "test"))
            }
            let running = workers.map { worker in Task { try await worker.run() } }
            #expect(try await eventually { try await unfinished(clockwork.connection) == 0 })
            running.forEach { $0.cancel() }
            for task in running { try await task.value }
            let outcomes = try await clockwork.connection.query("SELECT status, count(*) FROM baton.runs GROUP BY status")
            #expect(try outcomes.map { "\(try $0.decode(String.self, at: 0)) \(try $0.decode(Int.self, at: 1))" } == ["succeeded 40"])
            for id in ids {
                for (visit, leg) in [(1, "first"), (2, "second"), (3, "third")] {
                    #expect(stepExecutions.withLock { $0["\(id.uuidString.lowercased()):\(visit):\(leg)"] } == 1)
                }
                #expect(try await store.run(id).map { try $0.decodeContext(as: Relay.self).legs } == ["first", "second", "third"])
            }
        }
    }

    @Test func aStoppingWorkerFinishesTheRunItDrivesAndGivesBackThoseItClaimedAhead() async throws {
        try await withMigratedStore { store, clockwork in
            // Ten steps of 200 ms each: the run being driven ends up to two seconds after the
            // stop, so a busy machine's late stop still lands while it is being driven.
            for _ in 0..<3 { _ = try await store.start(TenSteps.self, context: .init(stepMilliseconds: 200)) }
            var registry = WorkflowRegistry()
            try registry.register(TenSteps.self)
            let worker = Worker(store: store, registry: registry,
                                configuration: .init(concurrency: 1, pollInterval: .milliseconds(50), claimAhead: 2), logger: Logger(label: "test"))
            let running = Task { try await worker.run() }
            #expect(try await eventually {
                try await clockwork.connection.query("SELECT count(*) FILTER (WHERE lease_owner = 'a'), max(seq) FROM baton.runs").first
                    .map { try $0.decode(Int.self, at: 0) == 3 && $0.decode(Int.self, at: 1) > 1 } ?? false
            })
            running.cancel()
            try await running.value
            let runs = try await clockwork.connection.query("""
                SELECT status || ' seq ' || seq || ' ' || coalesce(lease_owner, 'no lease') || ' due ' || coalesce((wake_at <= now())::text, 'never')
                       || ' failures ' || drive_failures
                FROM baton.runs ORDER BY seq DESC
                """).map { try $0.decode(String.self, at: 0) }
            #expect(runs == [
                "succeeded seq 22 no lease due never failures 0", "runnable seq 1 no lease due true failures 0", "runnable seq 1 no lease due true failures 0",
            ])
        }
    }

    @Test func aWorkerWhoseDrivesRunLongClaimsNoRunAhead() async throws {
        try await withMigratedStore { store, clockwork in
            // Ten steps of 100 ms: each drive takes over a second, past Worker.shortDrive, and
            // the moment checked below (two runs done, the third driven) lasts as long, so
            // the check sees it even on a machine busy with the other tests' processes
            // (with 40 ms steps CI once missed it).
            var ids: [UUID] = []
            for _ in 0..<4 { ids.append(try await store.start(TenSteps.self, context: .init(stepMilliseconds: 100)).runID) }
            var registry = WorkflowRegistry()
            try registry.register(TenSteps.self)
            let worker = Worker(store: store, registry: registry,
                                configuration: .init(concurrency: 1, pollInterval: .milliseconds(50), claimAhead: 2), logger: Logger(label: "test"))
            let running = Task { try await worker.run() }
            // Before any drive ended, it claimed two ahead (the second and third runs). Once
            // the first run's drive showed drives are long, it claims none ahead: the last
            // run is claimed only when the third ends, not when the first did.
            var lastLeasedWhileThirdDrives: Bool?
            #expect(try await eventually {
                let row = try await clockwork.connection.query("""
                    SELECT count(*) FILTER (WHERE status = 'succeeded'), coalesce(bool_or(lease_owner IS NOT NULL) FILTER (WHERE id = \(ids[3])), false)
                    FROM baton.runs
                    """).first
                guard let row, try row.decode(Int.self, at: 0) == 2 else { return false }
                lastLeasedWhileThirdDrives = try row.decode(Bool.self, at: 1)
                return true
            })
            #expect(lastLeasedWhileThirdDrives == false)
            #expect(try await eventually { try await unfinished(clockwork.connection) == 0 })
            running.cancel()
            try await running.value
        }
    }

    @Test func aRunThatCannotBeDrivenIsRetriedWithAGrowingDelayThenGoesOnOnceRepaired() async throws {
        try await withMigratedStore { store, clockwork in
            let id = try await store.start(Relay.self, context: .init()).runID
            // A context this version can't decode (as after a careless change to Context).
            try await clockwork.connection.query(#"UPDATE baton.runs SET context = '{"legs": 5}' WHERE id = \#(id)"#)
            func work(_ store: RunStore, until condition: () async throws -> Bool) async throws -> Bool {
                let worker = Worker(store: store, registry: try registry(),
                                    configuration: .init(concurrency: 1, pollInterval: .milliseconds(50)), logger: Logger(label: "test"))
                let running = Task { try await worker.run() }
                let held = try await eventually(condition)
                try await Task.sleep(for: .milliseconds(500))  // ten more polls
                running.cancel()
                try await running.value
                return held
            }
            func secondsUntilDue(from store: RunStore) async throws -> Double {
                try await store.pool.withConnection { connection in
                    try await connection.query("SELECT extract(epoch FROM wake_at - baton.current_time())::float8 FROM baton.runs WHERE id = \(id)")
                        .scalar(Double.self)
                }
            }

            let firstTry = try await clockwork.connection.query("SELECT now()").scalar(Date.self)
            #expect(try await work(store) { try await store.run(id)?.driveFailures == 1 })
            let postponed = try #require(try await store.run(id))
            // Not retried at every poll: once, then given back for two seconds.
            #expect(postponed.driveFailures == 1)
            #expect(postponed.leaseOwner == nil)
            #expect(postponed.lastDriveError?.contains("legs") == true)
            // Due two seconds after it failed, which was after firstTry and before now. (On a
            // busy machine more than two seconds may have passed since: it may be due already.)
            let due = try await clockwork.connection.query("SELECT wake_at FROM baton.runs WHERE id = \(id)").scalar(Date.self)
            #expect(due.timeIntervalSince(firstTry) >= 2)
            #expect(try await secondsUntilDue(from: store) <= 2)

            let later = try await clockwork.store(at: "3 seconds")
            #expect(try await work(later) { try await later.run(id)?.driveFailures == 2 })
            #expect(try await later.run(id)?.driveFailures == 2)
            // This store's clock stands still: exactly four seconds.
            #expect(try await secondsUntilDue(from: later) == 4)

            try await clockwork.connection.query(#"UPDATE baton.runs SET context = '{"legs": []}' WHERE id = \#(id)"#)
            let repaired = try await clockwork.store(at: "1 minute")
            #expect(try await work(repaired) { try await repaired.run(id)?.status == "succeeded" })
            let finished = try #require(try await repaired.run(id))
            #expect((finished.driveFailures, finished.lastDriveError) == (0, nil))
        }
    }

    @Test func anIdleWorkerWakesOnNotificationNotOnItsPollInterval() async throws {
        try await withMigratedStore { store, clockwork in
            let worker = Worker(store: store, registry: try registry(),
                                configuration: .init(concurrency: 2, pollInterval: .seconds(600)), logger: Logger(label: "test"))
            let running = Task { try await worker.run() }
            try await Task.sleep(for: .milliseconds(300))  // let it go idle
            let id = try await store.start(Relay.self, context: .init()).runID
            #expect(try await eventually(within: .seconds(20)) { try await store.run(id)?.status == "succeeded" })
            running.cancel()
            try await running.value
            #expect(try await unfinished(clockwork.connection) == 0)
        }
    }
}

/// Version 2 of Relay: one step fewer.
@Suite("Worker configuration: commit lanes and claiming ahead")
struct WorkerConfigurationTests {
    @Test func fewRunsInFlightCommitInTwoLanesMoreInOne() {
        #expect(WorkerConfiguration(concurrency: 1).commitLanes == 2)
        #expect(WorkerConfiguration(concurrency: 4).commitLanes == 2)
        #expect(WorkerConfiguration(concurrency: 5).commitLanes == 1)
        #expect(WorkerConfiguration(concurrency: 16).commitLanes == 1)
    }

    @Test func aWorkerClaimsAsManyRunsAheadAsItHasSlotsHalfOfThemAtATime() {
        #expect(WorkerConfiguration(concurrency: 4).claimAhead == 4)
        #expect(WorkerConfiguration(concurrency: 4).claimBatch == 2)
        #expect(WorkerConfiguration(concurrency: 1).claimBatch == 1)
        #expect(WorkerConfiguration(concurrency: 16, claimAhead: 3).claimBatch == 1)
        #expect(WorkerConfiguration(concurrency: 16, claimAhead: 0).claimBatch == 1)
    }

    @Test func aLaneCountGivenIsKeptWithinWhatAStoreHas() {
        #expect(WorkerConfiguration(concurrency: 16, commitLanes: 2).commitLanes == 2)
        #expect(WorkerConfiguration(concurrency: 4, commitLanes: 9).commitLanes == RunStore.commitLanes)
        #expect(WorkerConfiguration(concurrency: 4, commitLanes: 0).commitLanes == 1)
    }
}

struct RelayV2: Workflow {
    static let name = "relay"
    static let version = 2
    typealias Context = Relay.Context
    enum State: String, WorkflowState { case first, done }
    static var definition: Definition<Self> {
        Definition(initial: .first) {
            Action(.first, to: .done) { _ in .done }
            Terminal(.done)
        }
    }
}

@Suite("Pinned versions", .tags(.database))
struct PinnedVersionTests {
    @Test func aWorkerWithOnlyVersion2LeavesAVersion1RunAlone() async throws {
        try await withMigratedStore { store, clockwork in
            let old = try await store.start(Relay.self, context: .init()).runID
            let new = try await store.start(RelayV2.self, context: .init()).runID
            var registry = WorkflowRegistry()
            try registry.register(RelayV2.self)
            let worker = Worker(store: store, registry: registry, configuration: .init(pollInterval: .milliseconds(100)), logger: Logger(label: "test"))
            let running = Task { try await worker.run() }
            #expect(try await eventually { try await store.run(new)?.status == "succeeded" })
            try await Task.sleep(for: .milliseconds(300))  // a few more polls
            running.cancel()
            try await running.value
            #expect(try await store.run(new)?.status == "succeeded")
            let untouched = try #require(try await store.run(old))
            #expect((untouched.state, untouched.status, untouched.seq, untouched.leaseOwner) == ("first", "runnable", 1, nil))
            #expect(try await store.journal(of: old).count == 1)
        }
    }
}

/// Two steps in one action, the first journaled at once; between them the action holds
/// until the test lets it go on.
struct TwoStepHandOff: Workflow {
    static let name = "two-step-hand-off"
    static let version = 1
    struct Context: Codable, Sendable { var tag: String }
    enum State: String, WorkflowState { case work, done }

    static var definition: Definition<Self> {
        Definition(initial: .work) {
            Action(.work, to: .done) { run in
                let tag = run.context.tag
                _ = try await run.step("first", journal: .atOnce) { attempt in
                    stepExecutions.withLock { $0[attempt.idempotencyKey, default: 0] += 1 }
                    return true
                }
                // Journaled; nothing is left to commit before the next step starts.
                await pausedAction.wait(tag)
                _ = try await run.step("after", journal: .withNextCommit) { attempt in
                    stepExecutions.withLock { $0[attempt.idempotencyKey, default: 0] += 1 }
                    return true
                }
                return .done
            }
            Terminal(.done)
        }
    }
}

@Suite("A worker's own lease clock", .tags(.database))
struct LeaseClockTests {
    @Test func aWorkerThatLostItsLeaseStartsNoFurtherStep() async throws {
        try await withMigratedStore { store, clockwork in
            let tag = "lease-\(UUID().uuidString.prefix(8))"
            let id = try await store.start(TwoStepHandOff.self, context: .init(tag: tag)).runID
            var registry = WorkflowRegistry()
            try registry.register(TwoStepHandOff.self)
            let worker = Worker(
                store: store, registry: registry,
                configuration: .init(concurrency: 1, lease: .seconds(2), heartbeat: .milliseconds(100), pollInterval: .seconds(600)),
                logger: Logger(label: "test")
            )
            let running = Task { try await worker.run() }
            #expect(try await eventually { await pausedAction.hasArrived(tag) })
            // Another worker takes the run over between the steps: no heartbeat renews
            // the lease from now on. Usually the next heartbeat finds it gone; on a busy
            // machine heartbeats can be late, so the test waits until the lease has ended
            // by the worker's own clock whatever they did.
            try await clockwork.connection.query("""
                UPDATE baton.runs SET lease_owner = 'thief', lease_expires_at = now() + interval '1 hour' WHERE id = \(id)
                """)
            try await Task.sleep(for: .milliseconds(2_500))
            await pausedAction.open(tag)
            try await Task.sleep(for: .milliseconds(300))
            running.cancel()
            try await running.value

            let key = "\(id.uuidString.lowercased()):1:"
            #expect(stepExecutions.withLock { $0[key + "first"] } == 1)
            // Without its lease the worker did not start the next step, which the thief may have run.
            #expect(stepExecutions.withLock { $0[key + "after"] } == nil)
            let run = try #require(try await store.run(id))
            #expect((run.state, run.seq, run.leaseOwner) == ("work", 2, "thief"))
        }
    }
}

/// One step, journaled at once, that holds until the test lets it go on.
struct HeldStep: Workflow {
    static let name = "held-step"
    static let version = 1
    struct Context: Codable, Sendable { var tag: String }
    enum State: String, WorkflowState { case work, done }

    static var definition: Definition<Self> {
        Definition(initial: .work) {
            Action(.work, to: .done) { run in
                let tag = run.context.tag
                _ = try await run.step("held", journal: .atOnce) { attempt in
                    stepExecutions.withLock { $0[attempt.idempotencyKey, default: 0] += 1 }
                    await pausedAction.wait(tag)
                    return true
                }
                return .done
            }
            Terminal(.done)
        }
    }
}

@Suite("A run a worker claims again while driving it", .tags(.database))
struct ClaimedAgainTests {
    @Test func isDrivenAfterTheDriveInFlightNotBesideIt() async throws {
        try await withMigratedStore { store, clockwork in
            let tag = "again-\(UUID().uuidString.prefix(8))"
            let id = try await store.start(HeldStep.self, context: .init(tag: tag)).runID
            var registry = WorkflowRegistry()
            try registry.register(HeldStep.self)
            let worker = Worker(
                store: store, registry: registry,
                configuration: .init(concurrency: 4, lease: .seconds(30), pollInterval: .milliseconds(50)), logger: Logger(label: "test")
            )
            let running = Task { try await worker.run() }
            #expect(try await eventually { await pausedAction.hasArrived(tag) })
            // The lease runs out while the step runs (a stalled heartbeat); the worker's
            // own claim loop takes the run again.
            try await clockwork.connection.query("UPDATE baton.runs SET lease_expires_at = now() - interval '1 second' WHERE id = \(id)")
            #expect(try await eventually {
                try await clockwork.connection.query("SELECT lease_expires_at > now() FROM baton.runs WHERE id = \(id)").scalar(Bool.self)
            })
            try await Task.sleep(for: .milliseconds(200))
            await pausedAction.open(tag)
            #expect(try await eventually { try await store.run(id)?.status == "succeeded" })
            running.cancel()
            try await running.value
            // One execution: the second claim did not start a second drive beside the first.
            #expect(stepExecutions.withLock { $0["\(id.uuidString.lowercased()):1:held"] } == 1)
            #expect(try await store.verify(id).mismatches.isEmpty)
        }
    }
}

@Suite("baton worker --claim-ahead", .tags(.database, .process))
struct WorkerClaimAheadOptionTests {
    /// Starts three runs of ten 200 ms steps and a `baton worker` that drives one run at a
    /// time and claims `claimAhead` ahead; returns the most runs it held leased until the
    /// run it drives reached its ninth journal entry (four steps in).
    func runsLeasedWhileTheFirstIsDriven(claimAhead: Int) async throws -> Int {
        var most = 0
        try await withMigratedStore { store, clockwork in
            try await ScratchFolder.with("baton-claim-ahead") { folder in
                for _ in 0..<3 { _ = try await store.start(TenSteps.self, context: .init(stepMilliseconds: 200)) }
                let worker = try BatonProcess(
                    ["worker", "--concurrency", "1", "--claim-ahead", "\(claimAhead)", "--poll-milliseconds", "50"],
                    environment: ["BATON_DATABASE_URL": clockwork.configuration.connectionString]
                ).start(log: folder.appending(path: "worker.log").path)
                #expect(try await eventually {
                    let row = try await clockwork.connection.query("""
                        SELECT count(*) FILTER (WHERE lease_owner IS NOT NULL), max(seq) FROM baton.runs
                        """)[0]
                    most = max(most, try row.decode(Int.self, at: 0))
                    return try row.decode(Int.self, at: 1) >= 9
                })
                kill(worker.pid, SIGTERM)
                #expect(await worker.exitStatus() == 0)
            }
        }
        return most
    }

    @Test func aWorkerClaimsAheadAsManyRunsAsItIsToldAndNoneWithZero() async throws {
        // Unless told, a worker of concurrency 1 would hold 2: the run it drives and one ahead.
        #expect(try await runsLeasedWhileTheFirstIsDriven(claimAhead: 0) == 1)
        #expect(try await runsLeasedWhileTheFirstIsDriven(claimAhead: 2) == 3)
    }
}
