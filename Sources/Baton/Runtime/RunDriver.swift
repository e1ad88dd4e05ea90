import Foundation

/// Drives one claimed run forward: runs its actions, consumes awaited events from its
/// inbox, fires due timers and honours cancel requests, committing each transition,
/// until the run waits, finishes, or this worker turns out to have lost its lease.
///
/// Every write is fenced, so a driver that lost its lease stops having written
/// nothing more; the worker that took the run over carries on from the journal.
public struct RunDriver: Sendable {
    /// Why driving stopped.
    public enum Stop: Sendable, Hashable {
        /// The run waits for an event or a timer; its lease was released.
        case waiting
        case finished(Outcome)
        /// Another worker holds the run now; nothing more was written.
        case fencedOut
    }

    public let store: RunStore

    public init(store: RunStore) {
        self.store = store
    }

    /// Drives `claimed`, a run of `workflow` leased to this store's worker.
    public func drive<W: Workflow>(_ workflow: W.Type, _ claimed: StoredRun) async throws -> Stop {
        var position = try claimed.position(in: W.self)
        var context = try claimed.decodeContext(as: W.self)
        var seq = claimed.seq
        var cancelReason = claimed.cancelReason
        // Only the timer of the state the run was claimed in can be due: a state entered
        // while driving has just started its own.
        var isTimeoutDue = claimed.isTimeoutDue
        // A state this driver entered itself has no journaled steps yet; one it was
        // claimed in may have some (a crashed worker's), which are answered from the journal.
        var enteredHere = false
        while true {
            if case .finished(let outcome) = position.phase { return .finished(outcome) }
            var consumed: InboxEvent?
            var writes: [TransitionWrite] = []
            let input: RunInput<W>
            if let cancelReason {
                input = .cancel(reason: cancelReason)
            } else {
                switch position.phase {
                case .acting:
                    let steps = StepJournal(
                        store: store, runID: claimed.id, visit: position.visit, state: position.state.rawValue, seq: seq,
                        isFreshVisit: enteredHere
                    )
                    do {
                        (input, context, writes) = try await act(W.self, in: position.state, context: context, steps: steps)
                    } catch is FencedOut {
                        return .fencedOut
                    }
                    seq = steps.currentSeq
                case .waiting(let events, _):
                    if let event = try await store.oldestEvent(for: claimed.id, named: events) {
                        consumed = event
                        input = .eventReceived(name: event.name)
                    } else if isTimeoutDue {
                        input = .timerFired
                    } else {
                        try await store.release(claimed, expectedSeq: seq)
                        return .waiting
                    }
                case .sleeping:
                    guard isTimeoutDue else {
                        try await store.release(claimed, expectedSeq: seq)
                        return .waiting
                    }
                    input = .timerFired
                case .finished:
                    preconditionFailure("handled above")
                }
            }
            let result = try W.definition.transition(from: position, on: input)
            guard let committed = try await store.commit(
                result, of: claimed.id, expectedSeq: seq, context: context, consuming: consumed, writes: writes
            ) else {
                return .fencedOut
            }
            seq += result.records.count
            position = result.position
            cancelReason = committed.cancelReason
            isTimeoutDue = false
            enteredHere = true
        }
    }

    /// Runs the action body of `state`; returns the input its outcome makes, the
    /// context to journal with it and the writes to commit with it (unchanged context
    /// and no writes if the body threw).
    private func act<W: Workflow>(
        _ workflow: W.Type, in state: W.State, context: W.Context, steps: StepJournal
    ) async throws -> (RunInput<W>, W.Context, [TransitionWrite]) {
        guard case .action(_, _, let body)? = W.definition.definition(of: state)?.kind else {
            throw BatonError(.storedRun, "run \(steps.runID) is acting in \(state.rawValue), which is not an action state")
        }
        var run = ActionRun<W>(context: context, steps: steps)
        do {
            let next = try await body(&run)
            return (.actionReturned(next), run.context, run.transitionWrites)
        } catch let error where error is FencedOut || error is CancellationError {
            throw error
        } catch {
            return (.actionFailed(error: "\(error)"), context, [])
        }
    }
}
