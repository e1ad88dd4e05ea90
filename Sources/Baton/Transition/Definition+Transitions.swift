import Foundation

/// The transition logic's answer: where the run goes, what to journal, and what the
/// runtime does next.
public struct TransitionResult<W: Workflow>: Sendable {
    public let position: RunPosition<W>
    public let records: [JournalRecord]
}

/// An input that makes no sense where the run stands (an event for a run that is
/// not waiting for it, a timer for an action): refused, nothing changes.
public struct TransitionError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension Definition {
    /// The pure transition function: the run at `position` receives `input`.
    ///
    /// No database, clock or worker is involved: the runtime performs the result
    /// (journal the records, store the position, run the action or schedule the
    /// timer), which is what makes journals replayable and this logic testable alone.
    ///
    /// An action returning a state outside its declared targets is not refused: the
    /// run fails, with the invalid transition journaled as the error.
    public func transition(from position: RunPosition<W>?, on input: RunInput<W>) throws -> TransitionResult<W> {
        guard let position else {
            guard input == .start else { throw TransitionError(message: "a run that has not started can only start") }
            return enter(initial, visit: 1, records: [JournalRecord(.runStarted, to: initial.rawValue)])
        }
        let state = position.state.rawValue
        if case .finished(let outcome) = position.phase {
            throw TransitionError(message: "the run finished (\(outcome.rawValue)) in \(state); nothing more can happen to it")
        }
        if case .cancel(let reason) = input {
            return finish(position, outcome: .cancelled, reason: "cancelled", error: reason)
        }
        switch (position.phase, input) {
        case (.acting, .actionReturned(let next)):
            guard case .action(let targets, _, _, _)? = definition(of: position.state)?.kind, targets.contains(next) else {
                return finish(position, outcome: .failed, reason: "invalid transition",
                              error: "\(state) returned \(next.rawValue), which is not among its targets")
            }
            return move(position, to: next, reason: "returned")
        case (.acting, .actionFailed(let error)):
            guard case .action(_, let onError?, _, _)? = definition(of: position.state)?.kind else {
                return finish(position, outcome: .failed, reason: "error", error: error)
            }
            return move(position, to: onError, reason: "error", error: error)
        case (.acting, .budgetExceeded(let detail)):
            guard case .action(_, _, let onBudgetExceeded?, _)? = definition(of: position.state)?.kind else {
                return try transition(from: position, on: .actionFailed(error: detail))
            }
            return move(position, to: onBudgetExceeded, reason: "budget exceeded", error: detail)
        case (.waiting(let events, _), .eventReceived(let name)) where events.contains(name):
            guard case .wait(let declared, _, _)? = definition(of: position.state)?.kind,
                  let target = declared.first(where: { $0.name == name })?.target
            else { throw TransitionError(message: "\(state) is not a wait state") }
            return move(position, to: target, reason: name, before: [JournalRecord(.eventReceived, from: state, reason: name)])
        case (.waiting(_, let timeout?), .timerFired):
            guard case .wait(_, let declared?, _)? = definition(of: position.state)?.kind else {
                throw TransitionError(message: "\(state) has no timeout (\(String(describing: timeout)))")
            }
            return move(position, to: declared.target, reason: "timeout", before: [JournalRecord(.timerFired, from: state, reason: "timeout")])
        case (.awaitingChildren, .childrenFinished(let succeeded)):
            guard case .children(let spec)? = definition(of: position.state)?.kind else {
                throw TransitionError(message: "\(state) is not a children state")
            }
            return succeeded
                ? move(position, to: spec.next, reason: "children succeeded")
                : move(position, to: spec.failed, reason: "a child did not succeed")
        case (.sleeping, .timerFired):
            guard case .sleep(_, let target)? = definition(of: position.state)?.kind else {
                throw TransitionError(message: "\(state) is not a sleep state")
            }
            return move(position, to: target, reason: "slept", before: [JournalRecord(.timerFired, from: state, reason: "slept")])
        case (.requestingApproval, .approvalRouted(let routing)):
            let spec = try approvalSpec(of: position.state)
            switch routing {
            case .execute:
                return move(position, to: spec.approved, reason: "approved", before: [
                    JournalRecord(.approvalRequested, from: state, reason: "auto-execute"),
                    JournalRecord(.approvalDecided, from: state, reason: "approved by policy"),
                ])
            case .suggest:
                return move(position, to: spec.suggested, reason: "suggested", before: [JournalRecord(.approvalRequested, from: state, reason: "suggest-only")])
            case .ask(let roles, let deadline, let escalated):
                var waiting = position
                waiting.phase = .awaitingApproval(deadline: deadline)
                let reason = "\(escalated ? "escalate" : "require-approval"): \(roles.joined(separator: ", "))"
                return TransitionResult(position: waiting, records: [JournalRecord(.approvalRequested, from: state, reason: reason)])
            }
        case (.requestingApproval, .actionFailed(let error)):
            return finish(position, outcome: .failed, reason: "error", error: error)
        case (.awaitingApproval, .approvalDecided(let outcome, let by)):
            let spec = try approvalSpec(of: position.state)
            return move(position, to: spec.target(of: outcome), reason: outcome.rawValue, before: [
                JournalRecord(.approvalDecided, from: state, reason: "\(outcome.rawValue) by \(by)")
            ])
        case (.awaitingApproval, .approvalDeadlinePassed(.escalate(let roles, let deadline))):
            var waiting = position
            waiting.phase = .awaitingApproval(deadline: deadline)
            return TransitionResult(position: waiting, records: [
                JournalRecord(.approvalEscalated, from: state, reason: "to \(roles.joined(separator: ", "))")
            ])
        case (.awaitingApproval, .approvalDeadlinePassed(.conclude(let outcome))):
            let spec = try approvalSpec(of: position.state)
            return move(position, to: spec.target(of: outcome), reason: outcome.rawValue, before: [
                JournalRecord(.approvalExpired, from: state, reason: outcome == .expired ? "expired" : "\(outcome.rawValue) at the deadline")
            ])
        default:
            throw TransitionError(message: "\(state) can't take \(Self.describe(input)) while \(Self.describe(position.phase))")
        }
    }

    private func approvalSpec(of state: W.State) throws -> ApprovalSpec<W> {
        guard case .approval(let spec)? = definition(of: state)?.kind else {
            throw TransitionError(message: "\(state.rawValue) is not an approval state")
        }
        return spec
    }

    private func move(
        _ position: RunPosition<W>, to target: W.State, reason: String, error: String? = nil, before: [JournalRecord] = []
    ) -> TransitionResult<W> {
        let record = JournalRecord(.transition, from: position.state.rawValue, to: target.rawValue, reason: reason, error: error)
        return enter(target, visit: position.visit + 1, records: before + [record])
    }

    /// The position on entering `state`, finishing the run if it is terminal.
    private func enter(_ state: W.State, visit: Int, records: [JournalRecord]) -> TransitionResult<W> {
        let phase: RunPosition<W>.Phase
        var records = records
        switch definition(of: state)?.kind {
        case .wait(let events, let timeout, _)?: phase = .waiting(events: events.map(\.name), timeout: timeout?.duration)
        case .sleep(let end, _)?: phase = .sleeping(end.end)
        case .children?: phase = .awaitingChildren
        case .approval?: phase = .requestingApproval
        case .terminal(let outcome)?:
            phase = .finished(outcome)
            records.append(JournalRecord(.runFinished, from: state.rawValue, reason: outcome.rawValue))
        case .action?, nil: phase = .acting
        }
        return TransitionResult(position: RunPosition(state: state, phase: phase, visit: visit), records: records)
    }

    private func finish(_ position: RunPosition<W>, outcome: Outcome, reason: String, error: String?) -> TransitionResult<W> {
        var finished = position
        finished.phase = .finished(outcome)
        return TransitionResult(position: finished, records: [
            JournalRecord(.runFinished, from: position.state.rawValue, reason: reason == outcome.rawValue ? reason : "\(outcome.rawValue): \(reason)", error: error)
        ])
    }

    private static func describe(_ input: RunInput<W>) -> String {
        switch input {
        case .start: "a start"
        case .actionReturned(let state): "an action result (\(state.rawValue))"
        case .actionFailed: "an action failure"
        case .budgetExceeded: "a model budget refusal"
        case .eventReceived(let name): "event \"\(name)\""
        case .timerFired: "a timer"
        case .childrenFinished: "its children's end"
        case .cancel: "a cancellation"
        case .approvalRouted: "a policy's decision"
        case .approvalDecided(let outcome, _): "an approval decision (\(outcome.rawValue))"
        case .approvalDeadlinePassed: "an approval deadline"
        }
    }

    private static func describe(_ phase: RunPosition<W>.Phase) -> String {
        switch phase {
        case .acting: "running its action"
        case .waiting(let events, _): "waiting for \(events.map { "\"\($0)\"" }.joined(separator: " or "))"
        case .sleeping: "sleeping"
        case .awaitingChildren: "waiting for its children"
        case .requestingApproval: "asking its policy"
        case .awaitingApproval: "waiting for approvers"
        case .finished: "finished"
        }
    }
}

extension Definition {
    /// When a run entering `position` with `context` wakes, if it enters a sleep until
    /// a time the context gives: the part of a transition only the runtime can do.
    public func sleepEnd(entering position: RunPosition<W>, context: W.Context) -> Date? {
        guard case .sleeping(.atContextTime) = position.phase,
              case .sleep(.at(let deadline), _)? = definition(of: position.state)?.kind
        else { return nil }
        return deadline(context)
    }
}
