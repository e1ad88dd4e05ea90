import Baton
import BatonTesting
import Foundation
import LibPQ
import Testing

/// Books an order into the application's own `ledger` table with its transition.
struct Booking: Workflow {
    static let name = "booking"
    static let version = 1
    struct Context: Codable, Sendable {
        var orderID: String
        var pause = false
        var breakWrite = false
    }
    enum State: String, WorkflowState { case book, done }

    static var definition: Definition<Self> {
        Definition(initial: .book) {
            Action(.book, to: .done) { run in
                let (order, runID, breakWrite) = (run.context.orderID, run.runID, run.context.breakWrite)
                run.withinTransition { connection in
                    try await connection.query("INSERT INTO ledger (order_id, run_id) VALUES (\(order), \(runID))")
                    if breakWrite { try await connection.query("INSERT INTO ledger (order_id) VALUES (NULL)") }
                }
                if run.context.pause { await pausedAction.wait(order) }
                return .done
            }
            Terminal(.done)
        }
    }
}

@Suite("Business writes commit with the transition", .tags(.database))
struct TransitionWriteTests {
    let versions = [(name: Booking.name, version: Booking.version)]

    func ledgerRows(_ connection: PostgresConnection) async throws -> Int {
        try await connection.query("SELECT count(*) FROM ledger").scalar(Int.self)
    }

    func withLedger(_ body: (RunStore, Clockwork) async throws -> Void) async throws {
        try await withMigratedStore { store, clockwork in
            try await clockwork.connection.query("CREATE TABLE ledger (order_id text NOT NULL, run_id uuid)")
            try await body(store, clockwork)
        }
    }

    @Test func theRowAndTheTransitionCommitTogether() async throws {
        try await withLedger { store, clockwork in
            let id = try await store.start(Booking.self, context: .init(orderID: "B-1")).runID
            let run = try #require(try await store.claim(versions: versions, limit: 1, lease: .seconds(30)).first)
            #expect(try await RunDriver(store: store).drive(Booking.self, run) == .finished(.succeeded))
            #expect(try await ledgerRows(clockwork.connection) == 1)
            let owner = try await clockwork.connection.query("SELECT run_id FROM ledger").scalar(UUID.self)
            #expect(owner == id)
        }
    }

    @Test func aFencedOutTransitionTakesItsRowWithIt() async throws {
        try await withLedger { store, clockwork in
            _ = try await store.start(Booking.self, context: .init(orderID: "B-2", pause: true))
            let first = try #require(try await store.claim(versions: versions, limit: 1, lease: .seconds(30)).first)
            let stalled = Task { try await RunDriver(store: store).drive(Booking.self, first) }
            while !(await pausedAction.hasArrived("B-2")) { try await Task.sleep(for: .milliseconds(10)) }
            let takeover = try await clockwork.store(at: "1 minute", worker: "b")
            let second = try #require(try await takeover.claim(versions: versions, limit: 1, lease: .seconds(30)).first)
            await pausedAction.open("B-2")
            #expect(try await stalled.value == .fencedOut)
            #expect(try await ledgerRows(clockwork.connection) == 0)
            #expect(try await RunDriver(store: takeover).drive(Booking.self, second) == .finished(.succeeded))
            #expect(try await ledgerRows(clockwork.connection) == 1)
            #expect(try await store.verify().mismatches.isEmpty)
        }
    }

    @Test func aWriteThatFailsLeavesNeitherRowNorTransition() async throws {
        try await withLedger { store, clockwork in
            let id = try await store.start(Booking.self, context: .init(orderID: "B-3", breakWrite: true)).runID
            let run = try #require(try await store.claim(versions: versions, limit: 1, lease: .seconds(30)).first)
            let error = await #expect(throws: PostgresError.self) { try await RunDriver(store: store).drive(Booking.self, run) }
            #expect(error?.sqlState == .notNullViolation)
            #expect(try await ledgerRows(clockwork.connection) == 0)
            let unchanged = try #require(try await store.run(id))
            #expect((unchanged.state, unchanged.status, unchanged.seq) == ("book", "runnable", 1))
        }
    }
}
