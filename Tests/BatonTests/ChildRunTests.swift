import Baton
import BatonTesting
import Foundation
import LibPQ
import Logging
import Testing

/// Waits for "go", then ends.
struct Signal: Workflow {
    static let name = "signal"
    static let version = 1
    struct Context: Codable, Sendable { var label: String }
    enum State: String, WorkflowState { case waiting, done }
    static var definition: Definition<Self> {
        Definition(initial: .waiting) {
            Wait(.waiting, on: ["go": .done])
            Terminal(.done)
        }
    }
}

/// Starts one Relay per part and waits for all of them.
struct Assembly: Workflow {
    static let name = "assembly"
    static let version = 1
    struct Context: Codable, Sendable { var parts: Int; var legsPerPart: [Int] = [] }
    enum State: String, WorkflowState { case deliver, done, escalated }
    static var definition: Definition<Self> {
        Definition(initial: .deliver) {
            Children(.deliver, of: Relay.self, then: .done, onFailure: .escalated,
                     start: { order in (0..<order.parts).map { _ in Relay.Context() } },
                     collect: { order, deliveries in order.legsPerPart = deliveries.map(\.context.legs.count) })
            Terminal(.done)
            Terminal(.escalated, outcome: .failed)
        }
    }
}

/// Starts three Signals and goes on with the first to finish.
struct Race: Workflow {
    static let name = "race"
    static let version = 1
    struct Context: Codable, Sendable { var winner: String? }
    enum State: String, WorkflowState { case race, done, escalated }
    static var definition: Definition<Self> {
        Definition(initial: .race) {
            Children(.race, of: Signal.self, waitFor: .first, then: .done, onFailure: .escalated,
                     start: { _ in ["a", "b", "c"].map { Signal.Context(label: $0) } },
                     collect: { race, finished in race.winner = finished.first?.context.label })
            Terminal(.done)
            Terminal(.escalated, outcome: .failed)
        }
    }
}

@Suite("Child runs", .tags(.database))
struct ChildRunTests {
    func withWorker(_ body: (RunStore, PostgresConnection) async throws -> Void) async throws {
        try await withMigratedStore { store, clockwork in
            var registry = WorkflowRegistry()
            for workflow in [Assembly.self, Relay.self, Race.self, Signal.self] as [any Workflow.Type] {
                try registry.register(workflow)
            }
            let worker = Worker(store: store, registry: registry, configuration: .init(pollInterval: .milliseconds(50)), logger: Logger(label: "test"))
            let running = Task { try await worker.run() }
            do {
                try await body(store, clockwork.connection)
                running.cancel()
                try await running.value
            } catch {
                running.cancel()
                try? await running.value
                throw error
            }
        }
    }

    func children(of parent: UUID, _ connection: PostgresConnection) async throws -> [String] {
        try await connection.query("SELECT status FROM baton.runs WHERE parent_run_id = \(parent) ORDER BY status")
            .map { try $0.decode(String.self, at: 0) }
    }

    @Test func aParentWaitsForAllItsChildrenAndCollectsTheirContexts() async throws {
        try await withWorker { store, connection in
            let parent = try await store.start(Assembly.self, context: .init(parts: 3)).runID
            #expect(try await eventually { try await store.run(parent)?.status == "succeeded" })
            #expect(try await children(of: parent, connection) == ["succeeded", "succeeded", "succeeded"])
            #expect(try await store.run(parent).map { try $0.decodeContext(as: Assembly.self).legsPerPart } == [3, 3, 3])
            #expect(try await store.journal(of: parent).map(\.record.description) == [
                "run-started deliver",
                "transition deliver -> done (children succeeded)",
                "run-finished done (succeeded)",
            ])
            #expect(try await store.verify().mismatches.isEmpty)
        }
    }

    @Test func manyParentsOnTwoWorkersAllSeeTheirChildrenFinish() async throws {
        try await withWorker { store, connection in
            let other = Worker(store: RunStore(pool: store.pool, workerID: "b"), registry: try {
                var registry = WorkflowRegistry()
                try registry.register(Assembly.self)
                try registry.register(Relay.self)
                return registry
            }(), configuration: .init(concurrency: 3, pollInterval: .milliseconds(50)), logger: Logger(label: "test"))
            let running = Task { try await other.run() }
            var parents: [UUID] = []
            for _ in 0..<30 { parents.append(try await store.start(Assembly.self, context: .init(parts: 3)).runID) }
            let finished = try await eventually {
                try await connection.query("SELECT count(*) FROM baton.runs WHERE workflow = 'assembly' AND status = 'succeeded'")
                    .scalar(Int.self) == parents.count
            }
            running.cancel()
            try await running.value
            let stuck = try await connection.query("""
                SELECT state || ' ' || status || ' events ' || events_received || ' wake ' || coalesce(wake_at::text, '-')
                       || ' lease ' || coalesce(lease_owner, '-')
                FROM baton.runs WHERE workflow = 'assembly' AND status <> 'succeeded'
                """).map { try $0.decode(String.self, at: 0) }
            #expect(finished, "parents not finished: \(stuck)")
            #expect(try await store.verify().mismatches.isEmpty)
        }
    }

    @Test func aParentWithNoChildrenToStartGoesOnAtOnce() async throws {
        try await withWorker { store, _ in
            let parent = try await store.start(Assembly.self, context: .init(parts: 0)).runID
            #expect(try await eventually { try await store.run(parent)?.status == "succeeded" })
            #expect(try await store.run(parent).map { try $0.decodeContext(as: Assembly.self).legsPerPart } == [])
        }
    }

    @Test func aParentWaitingForTheFirstChildCancelsTheOthers() async throws {
        try await withWorker { store, connection in
            let parent = try await store.start(Race.self, context: .init()).runID
            #expect(try await eventually { try await children(of: parent, connection).count == 3 })
            let b = try await connection.query("""
                SELECT id FROM baton.runs WHERE parent_run_id = \(parent) AND context->>'label' = 'b'
                """).scalar(UUID.self)
            // Wait until the children wait, then let b finish first.
            #expect(try await eventually { try await store.run(b)?.status == "waiting" })
            try await store.send("go", to: b)
            #expect(try await eventually { try await store.run(parent)?.status == "succeeded" })
            #expect(try await store.run(parent).map { try $0.decodeContext(as: Race.self).winner } == "b")
            #expect(try await eventually { try await children(of: parent, connection) == ["cancelled", "cancelled", "succeeded"] })
        }
    }

    @Test func cancellingAParentCancelsItsChildren() async throws {
        try await withWorker { store, connection in
            let parent = try await store.start(Race.self, context: .init()).runID
            #expect(try await eventually {
                let parentStatus = try await store.run(parent)?.status
                return try await children(of: parent, connection) == ["waiting", "waiting", "waiting"] && parentStatus == "waiting"
            })
            try await store.requestCancel(parent, reason: "order withdrawn")
            #expect(try await eventually { try await store.run(parent)?.status == "cancelled" })
            #expect(try await eventually { try await children(of: parent, connection) == ["cancelled", "cancelled", "cancelled"] })
            let reasons = try await connection.query("""
                SELECT DISTINCT error FROM baton.runs WHERE parent_run_id = \(parent)
                """).map { try $0.decode(String?.self, at: 0) }
            #expect(reasons == ["order withdrawn"])
        }
    }

    @Test func theTransitionLogicWaitsForChildrenAndTakesTheirOutcome() throws {
        let started = try Assembly.definition.transition(from: nil, on: .start)
        #expect(started.position.phase == .awaitingChildren)
        let failed = try Assembly.definition.transition(from: started.position, on: .childrenFinished(succeeded: false))
        #expect(failed.records.map(\.description) == [
            "transition deliver -> escalated (a child did not succeed)",
            "run-finished escalated (failed)",
        ])
        #expect(throws: TransitionError.self) { try Assembly.definition.transition(from: started.position, on: .timerFired) }
    }
}
