import Baton
import BatonTesting
import Foundation
import LibPQ
import Testing

/// Text that JSON must escape, and that PostgreSQL must store as given.
let awkwardText = "say \"hi\"\\ then\nnew line\ttab \u{1} control, é, 日本, 🚀"

/// One action that runs a step and fails with an awkward message, to carry awkward
/// text through every field a transition writes.
struct Awkward: Workflow {
    static let name = "awkward"
    static let version = 1
    struct Context: Codable, Sendable, Equatable { var note = awkwardText; var echoed: String? }
    enum State: String, WorkflowState { case work, failed }

    struct Failure: Error, CustomStringConvertible {
        var description: String { awkwardText }
    }

    static var definition: Definition<Self> {
        Definition(initial: .work) {
            Action(.work, to: .failed, onError: .failed) { run in
                run.context.echoed = try await run.step(awkwardText) { _ in awkwardText }
                throw Failure()
            }
            Terminal(.failed, outcome: .failed)
        }
    }
}

@Suite("Group commit: runs share commits, each fenced on its own", .tags(.database))
struct GroupCommitTests {
    let versions = [(name: Shipment.name, version: Shipment.version)]

    /// Claims `count` started runs of Shipment and returns each with the transition
    /// out of its initial state.
    func claimedMoves(_ store: RunStore, count: Int) async throws -> [(StoredRun, TransitionResult<Shipment>)] {
        for _ in 0..<count { _ = try await store.start(Shipment.self, context: .init()) }
        let claimed = try await store.claim(versions: versions, limit: count, lease: .seconds(30))
        #expect(claimed.count == count)
        return try claimed.map { run in
            (run, try Shipment.definition.transition(from: try run.position(in: Shipment.self), on: .actionReturned(.plan)))
        }
    }

    @Test func concurrentTransitionsOfManyRunsCommitTogetherAndAllLand() async throws {
        try await withMigratedStore { store, clockwork in
            let moves = try await claimedMoves(store, count: 20)
            let committed = try await withThrowingTaskGroup(of: Bool.self) { group in
                for (run, result) in moves {
                    group.addTask { try await store.commit(result, of: run.id, expectedSeq: run.seq, context: .init(inStock: 1)) != nil }
                }
                return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            #expect(committed == 20)
            // Twenty transitions written by fewer transactions: they shared commits.
            let transactions = try await clockwork.connection.query("""
                SELECT count(DISTINCT xmin::text) FROM baton.journal WHERE kind = 'transition'
                """).scalar(Int.self)
            #expect(transactions < 20)
            let states = try await clockwork.connection.query("SELECT state, seq, count(*) FROM baton.runs GROUP BY 1, 2")
            #expect(states.count == 1)
            #expect(try states[0].decode(String.self, at: 0) == "plan")
            #expect(try states[0].decode(Int.self, at: 2) == 20)
            #expect(try await store.verify(nil).mismatches.isEmpty)
        }
    }

    @Test func aFencedOutMoveInABatchWritesNothingAndTheOthersLand() async throws {
        try await withMigratedStore { store, clockwork in
            let moves = try await claimedMoves(store, count: 8)
            let stale = moves[3].0.id
            let results = try await withThrowingTaskGroup(of: (UUID, Bool).self) { group in
                for (run, result) in moves {
                    // One writer expects a seq that is not the run's newest.
                    let seq = run.id == stale ? run.seq + 5 : run.seq
                    group.addTask { (run.id, try await store.commit(result, of: run.id, expectedSeq: seq, context: .init()) != nil) }
                }
                return try await group.reduce(into: [UUID: Bool]()) { $0[$1.0] = $1.1 }
            }
            #expect(results.filter(\.value).count == 7)
            #expect(results[stale] == false)
            #expect(try await store.journal(of: stale).count == 1)
            #expect(try await store.run(stale)?.state == "assess")
        }
    }

    @Test func aMovePostgreSQLRefusesFailsAloneAndTheOthersLand() async throws {
        try await withMigratedStore { store, clockwork in
            let moves = try await claimedMoves(store, count: 8)
            let poisoned = moves[5].0.id
            let results = try await withThrowingTaskGroup(of: (UUID, String?).self) { group in
                for (run, result) in moves {
                    // jsonb refuses the NUL character, so this context can't be stored.
                    let context = Shipment.Context(plan: run.id == poisoned ? "nul \u{0} here" : nil)
                    group.addTask {
                        do {
                            _ = try await store.commit(result, of: run.id, expectedSeq: run.seq, context: context)
                            return (run.id, nil)
                        } catch {
                            return (run.id, "\(error)")
                        }
                    }
                }
                return try await group.reduce(into: [UUID: String?]()) { $0[$1.0] = $1.1 }
            }
            #expect(results.filter { $0.value == nil }.count == 7)
            #expect(results[poisoned]??.contains("\\u0000") == true)
            #expect(try await store.journal(of: poisoned).count == 1)
            let moved = try await clockwork.connection.query("SELECT count(*) FROM baton.runs WHERE state = 'plan'").scalar(Int.self)
            #expect(moved == 7)
        }
    }

    @Test func aMoveCommittedAloneWritesWhatABatchedOneWrites() async throws {
        try await withMigratedStore { store, clockwork in
            let moves = try await claimedMoves(store, count: 9)
            let context = Shipment.Context(inStock: 3, plan: awkwardText)
            // Nothing else commits: the first move goes alone, in its own statement.
            let (alone, aloneResult) = moves[0]
            #expect(try await store.commit(aloneResult, of: alone.id, expectedSeq: alone.seq, context: context) != nil)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (run, result) in moves.dropFirst() {
                    group.addTask { _ = try await store.commit(result, of: run.id, expectedSeq: run.seq, context: context) }
                }
                try await group.waitForAll()
            }
            // A run whose transition shares its transaction with another's was batched.
            let batched = try await clockwork.connection.query("""
                SELECT run_id FROM baton.journal j WHERE kind = 'transition' AND run_id <> \(alone.id)
                  AND EXISTS (SELECT 1 FROM baton.journal o WHERE o.xmin = j.xmin AND o.run_id <> j.run_id)
                LIMIT 1
                """).scalar(UUID.self)
            func written(_ id: UUID) async throws -> [String] {
                let journal = try await clockwork.connection.query("""
                    SELECT concat_ws('|', seq, kind, state_from, state_to, reason, error, step_name, visit, attempt,
                                     duration_ms, payload, worker_id, model, tokens_in, tokens_out, cost_usd)
                    FROM baton.journal WHERE run_id = \(id) ORDER BY seq
                    """).map { try $0.decode(String.self, at: 0) }
                let row = try await clockwork.connection.query("""
                    SELECT concat_ws('|', state, status, visit, seq, context, waiting_for, timeout_at IS NULL, wake_at IS NULL,
                                     finished_at IS NULL, lease_owner, error, drive_failures, last_drive_error, last_entry_is_step)
                    FROM baton.runs WHERE id = \(id)
                    """).scalar(String.self)
                return journal + [row]
            }
            #expect(try await written(alone.id) == written(batched))
            #expect(try await store.verify(nil).mismatches.isEmpty)
        }
    }

    @Test func awkwardTextSurvivesEveryFieldOfATransition() async throws {
        try await withMigratedStore { store, clockwork in
            let id = try await store.start(Awkward.self, context: .init()).runID
            let claimed = try #require(try await store.claim(versions: [(Awkward.name, Awkward.version)], limit: 1, lease: .seconds(30)).first)
            #expect(try await RunDriver(store: store).drive(Awkward.self, claimed) == .finished(.failed))
            let run = try #require(try await store.run(id))
            #expect(try run.decodeContext(as: Awkward.self) == Awkward.Context(note: awkwardText, echoed: nil))
            let entries = try await store.journal(of: id)
            #expect(entries.map(\.record.kind) == [.runStarted, .stepCompleted, .transition, .runFinished])
            #expect(entries[1].record.step == awkwardText)
            #expect(entries[2].record.error == awkwardText)
            let output = try await store.stepOutput(of: id, visit: 1, step: awkwardText)
            #expect(try JSONDecoder().decode(String.self, from: Data(try #require(output).utf8)) == awkwardText)
            #expect(try await store.verify(id).mismatches.isEmpty)
        }
    }
}
