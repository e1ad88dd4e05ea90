import Baton
import BatonTesting
import Foundation
import LibPQ
import Testing

/// One action that fetches a step output and grows the context, each as large as asked.
struct Hoarder: Workflow {
    static let name = "hoarder"
    static let version = 1
    struct Context: Codable, Sendable { var outputSize = 10; var growth = 0; var fetched: String?; var blob: String? }
    enum State: String, WorkflowState { case gather, done, refused }

    static var definition: Definition<Self> {
        Definition(initial: .gather) {
            Action(.gather, to: .done, onError: .refused) { run in
                let size = run.context.outputSize
                run.context.fetched = try await run.step("fetch") { attempt in
                    stepExecutions.withLock { $0[attempt.idempotencyKey, default: 0] += 1 }
                    return String(repeating: "x", count: size)
                }
                if run.context.growth > 0 { run.context.blob = String(repeating: "y", count: run.context.growth) }
                return .done
            }
            Terminal(.done)
            Terminal(.refused, outcome: .failed)
        }
    }
}

@Suite("Payloads over the limit are refused before they reach the journal", .tags(.database))
struct PayloadLimitTests {
    /// A store that accepts 1,000 bytes of JSON at most.
    func small(_ store: RunStore) -> RunStore {
        RunStore(pool: store.pool, workerID: store.workerID, maxPayloadBytes: 1_000)
    }

    func drive(_ store: RunStore) async throws -> RunDriver.Stop? {
        guard let run = try await store.claim(versions: [(Hoarder.name, Hoarder.version)], limit: 1, lease: .seconds(30)).first else { return nil }
        return try await RunDriver(store: store).drive(Hoarder.self, run)
    }

    func count(_ table: String, _ connection: PostgresConnection) async throws -> Int {
        try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM baton.\(table)")).scalar(Int.self)
    }

    @Test func anOversizedStartOrEventIsRefusedAndWritesNothing() async throws {
        try await withMigratedStore { store, clockwork in
            let store = small(store)
            let refused = await #expect(throws: BatonError.self) {
                try await store.start(Hoarder.self, context: .init(fetched: String(repeating: "z", count: 2_000)))
            }
            #expect(refused?.message.hasPrefix("the context is 20") == true)
            #expect(refused?.message.hasSuffix("bytes of JSON, over the limit of 1000") == true)
            #expect(try await count("runs", clockwork.connection) == 0)

            let id = try await store.start(Hoarder.self, context: .init()).runID
            let bigEvent = #"{"note": "\#(String(repeating: "z", count: 2_000))"}"#
            await #expect(throws: BatonError.self) { try await store.send("poke", to: id, payload: bigEvent) }
            #expect(try await count("events", clockwork.connection) == 0)
            #expect(try await store.run(id)?.eventsReceived == 0)
        }
    }

    @Test func anOversizedStepOutputFailsTheStepWithoutRetryAndTakesTheErrorTransition() async throws {
        try await withMigratedStore { store, clockwork in
            let store = small(store)
            let id = try await store.start(Hoarder.self, context: .init(outputSize: 5_000)).runID
            #expect(try await drive(store) == .finished(.failed))
            #expect(stepExecutions.withLock { $0["\(id.uuidString.lowercased()):1:fetch"] } == 1)
            let entries = try await store.journal(of: id)
            #expect(entries.map(\.record.kind) == [.runStarted, .stepFailed, .transition, .runFinished])
            #expect(entries[1].record.error?.contains("step fetch's output is 5002 bytes of JSON, over the limit of 1000") == true)
            #expect(try await count("step_outputs", clockwork.connection) == 0)
            #expect(try await store.run(id)?.state == "refused")
        }
    }

    @Test func anActionThatGrowsTheContextPastTheLimitFailsAndLeavesItUnchanged() async throws {
        try await withMigratedStore { store, clockwork in
            let store = small(store)
            let id = try await store.start(Hoarder.self, context: .init(growth: 5_000)).runID
            #expect(try await drive(store) == .finished(.failed))
            let run = try #require(try await store.run(id))
            #expect(run.state == "refused")
            #expect(try run.decodeContext(as: Hoarder.self).blob == nil)
            let transition = try #require(try await store.journal(of: id).first { $0.record.kind == .transition })
            #expect(transition.record.error?.contains("the context gather made is") == true)
            #expect(try await store.verify(id).mismatches.isEmpty)
        }
    }
}
