import Baton
import BatonExamples
import Foundation
import Testing

@Suite("The example workflows", .tags(.database))
struct ExampleTests {
    @Test func theShippedExamplesRegister() throws {
        #expect(try Examples.registry().workflows.map(\.name) == ["customer-notice", "order-delay", "ten-steps"])
    }

    @Test func aDelayedOrderIsReplannedAfterADeclineThenShipsAndSettles() async throws {
        try await withMigratedStore { store, clockwork in
            let versions = [(name: OrderDelay.name, version: OrderDelay.version)]
            func drive(_ store: RunStore) async throws -> RunDriver.Stop? {
                guard let run = try await store.claim(versions: versions, limit: 1, lease: .seconds(30)).first else { return nil }
                return try await RunDriver(store: store, policies: try Examples.policies(), models: try Examples.models()).drive(OrderDelay.self, run)
            }
            func driveNotice(_ store: RunStore) async throws -> RunDriver.Stop? {
                let notices = [(name: CustomerNotice.name, version: CustomerNotice.version)]
                guard let run = try await store.claim(versions: notices, limit: 1, lease: .seconds(30)).first else { return nil }
                return try await RunDriver(store: store, models: try Examples.models()).drive(CustomerNotice.self, run)
            }
            let inStock = try await store.start(OrderDelay.self, context: .init(orderID: "ORD-1002", quantity: 5)).runID
            #expect(try await drive(store) == .finished(.succeeded))
            #expect(try await store.run(inStock)?.state == "done")

            let note = "Vessel held at Rotterdam: the port is closed by a storm."
            let delayed = try await store.start(OrderDelay.self, context: .init(orderID: "ORD-1001", quantity: 5, delayNote: note)).runID
            #expect(try await drive(store) == .waiting)
            try await store.send("carrier-declined", to: delayed)
            #expect(try await drive(store) == .waiting)
            // A confirmation without a carrier is refused; the run goes on waiting for a
            // good one, its deadline unchanged.
            let timeoutBefore = try await clockwork.connection.query("SELECT timeout_at FROM baton.runs WHERE id = \(delayed)").scalar(Date.self)
            try await store.send("carrier-confirmed", to: delayed, payload: #"{"vessel": "Emma"}"#)
            #expect(try await drive(store) == .waiting)
            #expect(try await store.run(delayed)?.state == "awaitCarrier")
            let timeoutAfter = try await clockwork.connection.query("SELECT timeout_at FROM baton.runs WHERE id = \(delayed)").scalar(Date.self)
            #expect(timeoutAfter == timeoutBefore)
            try await store.send("carrier-confirmed", to: delayed, payload: #"{"carrier": "Maersk"}"#)
            #expect(try await drive(store) == .waiting)  // waiting for its child
            #expect(try await driveNotice(store) == .finished(.succeeded))
            #expect(try await drive(store) == .waiting)  // settling
            #expect(try await drive(try await clockwork.store(at: "5 seconds")) == .finished(.succeeded))
            let context = try #require(try await store.run(delayed)).decodeContext(as: OrderDelay.self)
            #expect(context.plansDrafted == 2)
            #expect(context.plan == "Reroute 5 units of ORD-1001 via Antwerp (plan 2)")
            #expect(context.carrier == "Maersk")
            #expect(context.trackingNumber?.hasPrefix("TRK-MAE-ORD-1001-") == true)
            let refusals = try await store.journal(of: delayed).filter { $0.record.kind == .eventReceived && $0.record.error != nil }
            #expect(refusals.map(\.record.description) == [
                #"event-received awaitCarrier (carrier-confirmed): refused: event carrier-confirmed's data does not fit CarrierConfirmation: at the top: missing "carrier""#,
            ])
            #expect(try await store.verify(delayed).mismatches.isEmpty)
            // The rule-based model classified the note and drafted the notice from its template.
            #expect(context.delayCause == "weather")
            #expect(context.customerNotice == "Good news: order ORD-1001 is on its way again. Track it with \(context.trackingNumber ?? ""). We are sorry for the wait.")
            let calls = try await clockwork.connection.query("""
                SELECT step_name, model, task, tokens_in > 0, cost_usd::text FROM baton.model_calls ORDER BY recorded_at
                """).map { "\(try $0.decode(String.self, at: 0)) \(try $0.decode(String.self, at: 1)) \(try $0.decode(String.self, at: 2)) \(try $0.decode(Bool.self, at: 3)) \(try $0.decode(String.self, at: 4))" }
            #expect(calls == ["classify-delay rules classify true 0.000000", "draft-message rules draft true 0.000000"])
            #expect(try await store.journal(of: delayed).map(\.record.description).filter { $0.hasPrefix("transition") } == [
                "transition assess -> plan (returned)",
                "transition plan -> approveReroute (returned)",
                "transition approveReroute -> awaitCarrier (approved)",
                "transition awaitCarrier -> plan (carrier-declined)",
                "transition plan -> approveReroute (returned)",
                "transition approveReroute -> awaitCarrier (approved)",
                "transition awaitCarrier -> ship (carrier-confirmed)",
                "transition ship -> notify (returned)",
                "transition notify -> settle (children succeeded)",
                "transition settle -> done (slept)",
            ])
        }
    }
}
