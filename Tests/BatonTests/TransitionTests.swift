import Baton
import Testing

/// Replays `inputs` from a run that has not started and returns the final position
/// and the journal, one record per line.
func replay<W: Workflow>(_ workflow: W.Type, _ inputs: [RunInput<W>]) throws -> (position: RunPosition<W>?, journal: String) {
    var position: RunPosition<W>?
    var lines: [String] = []
    for input in inputs {
        let result = try W.definition.transition(from: position, on: input)
        position = result.position
        lines += result.records.map(\.description)
    }
    return (position, lines.joined(separator: "\n"))
}

@Suite("The pure transition logic, against golden journals")
struct TransitionTests {
    @Test func aRunThatDetoursThroughEveryKindOfStateJournalsEachStep() throws {
        let (position, journal) = try replay(Shipment.self, [
            .start, .actionReturned(.plan), .actionReturned(.awaitCarrier), .eventReceived(name: "declined"),
            .timerFired, .actionFailed(error: "carrier API down"),
        ])
        #expect(journal == """
            run-started assess
            transition assess -> plan (returned)
            transition plan -> awaitCarrier (returned)
            event-received awaitCarrier (declined)
            transition awaitCarrier -> cooldown (declined)
            timer-fired cooldown (slept)
            transition cooldown -> plan (slept)
            transition plan -> cancelled (error): carrier API down
            run-finished cancelled (cancelled)
            """)
        #expect(position == RunPosition(state: .cancelled, phase: .finished(.cancelled), visit: 6))
    }

    @Test func theShortestRunStartsAndSucceeds() throws {
        let (position, journal) = try replay(Shipment.self, [.start, .actionReturned(.done)])
        #expect(journal == """
            run-started assess
            transition assess -> done (returned)
            run-finished done (succeeded)
            """)
        #expect(position?.phase == .finished(.succeeded))
    }

    @Test func aWaitThatTimesOutTakesItsTimeoutTransition() throws {
        let (position, journal) = try replay(Shipment.self, [.start, .actionReturned(.plan), .actionReturned(.awaitCarrier), .timerFired])
        #expect(journal.hasSuffix("""
            timer-fired awaitCarrier (timeout)
            transition awaitCarrier -> cancelled (timeout)
            run-finished cancelled (cancelled)
            """))
        #expect(position?.visit == 4)
    }

    @Test func enteringAWaitRecordsWhatItWaitsFor() throws {
        let (position, _) = try replay(Shipment.self, [.start, .actionReturned(.plan), .actionReturned(.awaitCarrier)])
        #expect(position?.phase == .waiting(events: ["confirmed", "declined"], timeout: .seconds(3600)))
    }

    @Test func anActionReturningAStateOutsideItsTargetsFailsTheRun() throws {
        let (position, journal) = try replay(Shipment.self, [.start, .actionReturned(.cooldown)])
        #expect(journal.hasSuffix("run-finished assess (failed: invalid transition): assess returned cooldown, which is not among its targets"))
        #expect(position?.phase == .finished(.failed))
    }

    @Test func aFailedActionWithoutAnErrorTransitionFailsTheRun() throws {
        let (_, journal) = try replay(Shipment.self, [.start, .actionFailed(error: "ERP timed out")])
        #expect(journal.hasSuffix("run-finished assess (failed: error): ERP timed out"))
    }

    @Test func cancellingAWaitingRunFinishesItAtOnce() throws {
        let (position, journal) = try replay(Shipment.self, [
            .start, .actionReturned(.plan), .actionReturned(.awaitCarrier), .cancel(reason: "customer withdrew"),
        ])
        #expect(journal.hasSuffix("run-finished awaitCarrier (cancelled): customer withdrew"))
        #expect(position?.state == .awaitCarrier)
        #expect(position?.phase == .finished(.cancelled))
    }

    @Test func inputsThatMakeNoSenseWhereTheRunStandsAreRefused() throws {
        let waiting = try replay(Shipment.self, [.start, .actionReturned(.plan), .actionReturned(.awaitCarrier)]).position
        let unexpected = #expect(throws: TransitionError.self) {
            try Shipment.definition.transition(from: waiting, on: .eventReceived(name: "lost"))
        }
        #expect(unexpected?.message == "awaitCarrier can't take event \"lost\" while waiting for \"confirmed\" or \"declined\"")
        let acting = try replay(Shipment.self, [.start]).position
        #expect(throws: TransitionError.self) { try Shipment.definition.transition(from: acting, on: .timerFired) }
        #expect(throws: TransitionError.self) { try Shipment.definition.transition(from: nil, on: .timerFired) }
        let finished = try replay(Shipment.self, [.start, .actionReturned(.done)]).position
        let late = #expect(throws: TransitionError.self) {
            try Shipment.definition.transition(from: finished, on: .cancel(reason: "too late"))
        }
        #expect(late?.message == "the run finished (succeeded) in done; nothing more can happen to it")
    }
}
