import Baton
import BatonTesting
import Foundation
import LibPQ
import Testing

/// Book a pickup, sleep until its time (read from the context), collect.
struct Pickup: Workflow {
    static let name = "pickup"
    static let version = 1
    struct Context: Codable, Sendable { var pickupAt: Date; var collected = false }
    enum State: String, WorkflowState { case book, awaitPickup, collect, done }

    static var definition: Definition<Self> {
        Definition(initial: .book) {
            Action(.book, to: .awaitPickup) { _ in .awaitPickup }
            Sleep(.awaitPickup, until: { $0.pickupAt }, then: .collect)
            Action(.collect, to: .done) { run in
                run.context.collected = true
                return .done
            }
            Terminal(.done)
        }
    }
}

/// A run that starts asleep until the time its input gives.
struct Embargo: Workflow {
    static let name = "embargo"
    static let version = 1
    struct Context: Codable, Sendable { var liftsAt: Date }
    enum State: String, WorkflowState { case embargoed, published }

    static var definition: Definition<Self> {
        Definition(initial: .embargoed) {
            Sleep(.embargoed, until: { $0.liftsAt }, then: .published)
            Terminal(.published)
        }
    }
}

@Suite("Sleeping until a time the context gives", .tags(.database))
struct SleepUntilTests {
    func claimAndDrive<W: Workflow>(_ workflow: W.Type, _ store: RunStore) async throws -> RunDriver.Stop? {
        guard let run = try await store.claim(versions: [(W.name, W.version)], limit: 1, lease: .seconds(30)).first else { return nil }
        return try await RunDriver(store: store).drive(W.self, run)
    }

    @Test func aRunSleepsUntilTheContextsTimeThenGoesOn() async throws {
        try await withMigratedStore { store, clockwork in
            // Whole milliseconds, so the stored timestamp compares exactly.
            let pickupAt = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 * 1000).rounded() / 1000 + 2 * 86_400)
            let id = try await store.start(Pickup.self, context: .init(pickupAt: pickupAt)).runID
            #expect(try await claimAndDrive(Pickup.self, store) == .waiting)
            let wakesAt = try await clockwork.connection.query("SELECT timeout_at, wake_at FROM baton.runs WHERE id = \(id)")[0]
            #expect(try wakesAt.decode(Date.self, at: 0) == pickupAt)
            #expect(try wakesAt.decode(Date.self, at: 1) == pickupAt)
            // A day later it still sleeps; two days and a minute later it goes on.
            #expect(try await claimAndDrive(Pickup.self, try await clockwork.store(at: "1 day")) == nil)
            let later = try await clockwork.store(at: "2 days 1 minute")
            #expect(try await claimAndDrive(Pickup.self, later) == .finished(.succeeded))
            #expect(try await store.journal(of: id).map(\.record.description) == [
                "run-started book",
                "transition book -> awaitPickup (returned)",
                "timer-fired awaitPickup (slept)",
                "transition awaitPickup -> collect (slept)",
                "transition collect -> done (returned)",
                "run-finished done (succeeded)",
            ])
            #expect(try await store.run(id)?.decodeContext(as: Pickup.self).collected == true)
            #expect(try await store.verify(id).mismatches.isEmpty)
        }
    }

    @Test func aRunStartedAsleepWakesAtItsTimeAndATimePastWakesAtOnce() async throws {
        try await withMigratedStore { store, clockwork in
            let tomorrow = try await store.start(Embargo.self, context: .init(liftsAt: Date().addingTimeInterval(86_400))).runID
            let yesterday = try await store.start(Embargo.self, context: .init(liftsAt: Date().addingTimeInterval(-86_400))).runID
            #expect(try await store.run(tomorrow)?.status == "waiting")
            // Only the run whose time has passed is due.
            #expect(try await claimAndDrive(Embargo.self, store) == .finished(.succeeded))
            #expect(try await claimAndDrive(Embargo.self, store) == nil)
            #expect(try await store.run(yesterday)?.status == "succeeded")
            #expect(try await claimAndDrive(Embargo.self, try await clockwork.store(at: "1 day 1 minute")) == .finished(.succeeded))
            #expect(try await store.run(tomorrow)?.status == "succeeded")
        }
    }
}
