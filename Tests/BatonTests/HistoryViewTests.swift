import Baton
import BatonTesting
import Foundation
import LibPQ
import Testing

@Suite("The history views", .tags(.database))
struct HistoryViewTests {
    let versions = [(name: Fulfilment.name, version: Fulfilment.version)]

    func drive(_ store: RunStore) async throws -> RunDriver.Stop? {
        guard let run = try await store.claim(versions: versions, limit: 1, lease: .seconds(30)).first else { return nil }
        return try await RunDriver(store: store).drive(Fulfilment.self, run)
    }

    @Test func theViewsSayWhereRunsWaitHowLongStepsTakeAndHowWorkflowsEnd() async throws {
        try await withMigratedStore { store, clockwork in
            let connection = clockwork.connection
            let awaiting = try await store.start(Fulfilment.self, context: .init(orderID: "H-1")).runID
            #expect(try await drive(store) == .waiting)
            let failing = try await store.start(Fulfilment.self, context: .init(orderID: "H-2", failReserve: true)).runID
            #expect(try await drive(store) == .finished(.failed))
            let sleeping = try await store.start(Fulfilment.self, context: .init(orderID: "H-3")).runID
            #expect(try await drive(store) == .waiting)
            try await store.send("carrier-booked", to: sleeping)
            #expect(try await drive(store) == .waiting)
            _ = try await store.start(Fulfilment.self, context: .init(orderID: "H-4"))

            let waiting = try await connection.query("""
                SELECT id, state, waiting_on, events::text FROM baton.waiting_runs ORDER BY waiting_since
                """).map { row in
                "\(try row.decode(UUID.self, at: 0) == awaiting ? "awaiting" : try row.decode(UUID.self, at: 0) == sleeping ? "sleeping" : "due") "
                    + "\(try row.decode(String.self, at: 1)) \(try row.decode(String.self, at: 2)) \(try row.decode(String?.self, at: 3) ?? "-")"
            }
            #expect(waiting == [#"awaiting awaitCarrier event ["carrier-booked"]"#, "sleeping cooldown timer -", "due reserve due -"])
            #expect(try await connection.query("SELECT count(*) FROM baton.waiting_runs WHERE id = \(failing)").scalar(Int.self) == 0)

            let steps = try await connection.query("""
                SELECT state || ' ' || step_name || ' ' || completed || ' ' || failed, p50_ms >= 0 AND p95_ms >= p50_ms AND p99_ms >= p95_ms
                FROM baton.step_latency WHERE workflow = 'fulfilment' ORDER BY state, step_name
                """)
            #expect(try steps.map { try $0.decode(String.self, at: 0) } == ["reserve reserve-stock 2 1", "ship print-label 1 0"])
            #expect(try steps.allSatisfy { try $0.decode(Bool.self, at: 1) })

            func outcomes() async throws -> String {
                let row = try await connection.query("""
                    SELECT runs, succeeded, failed, cancelled, unfinished, success_rate::text FROM baton.workflow_outcomes
                    WHERE workflow = 'fulfilment' AND version = 1
                    """)[0]
                return try (0..<5).map { "\(try row.decode(Int.self, at: $0))" }.joined(separator: " ") + " " + (try row.decode(String.self, at: 5))
            }
            #expect(try await outcomes() == "4 0 1 0 3 0.0000")
            // Two minutes later the due run goes to its wait, and the sleeping run's timer
            // fires and it ends: one of two finished runs succeeded.
            let later = try await clockwork.store(at: "2 minutes")
            #expect(try await drive(later) == .waiting)
            #expect(try await drive(later) == .finished(.succeeded))
            #expect(try await outcomes() == "4 1 1 0 2 0.5000")
        }
    }
}
