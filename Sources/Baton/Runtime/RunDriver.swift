import Foundation
import LibPQ

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
    /// The policies approval states decide with.
    public let policies: PolicyBook
    /// The models actions call through ``ActionRun/model(_:task:_:)``, if any.
    public let models: ModelRouter?
    /// Whether the driving worker still holds its lease on a run, asked before each
    /// step starts: a step does not start without it (the run stops, fenced out).
    let holdsLease: @Sendable () -> Bool

    public init(store: RunStore, policies: PolicyBook = PolicyBook(), models: ModelRouter? = nil) {
        self.init(store: store, policies: policies, models: models, holdsLease: { true })
    }

    init(store: RunStore, policies: PolicyBook, models: ModelRouter?, holdsLease: @escaping @Sendable () -> Bool) {
        self.store = store
        self.policies = policies
        self.models = models
        self.holdsLease = holdsLease
    }

    /// Drives `claimed`, a run of `workflow` leased to this store's worker.
    public func drive<W: Workflow>(_ workflow: W.Type, _ claimed: StoredRun) async throws -> Stop {
        // Read once: the cache behind it takes a lock and a cast at every read.
        let definition = W.builtDefinition
        var position = try claimed.position(in: W.self)
        var context = try claimed.decodeContext(as: W.self)
        var encodedContext = claimed.context
        var seq = claimed.seq
        var cancelReason = claimed.cancelReason
        // Only the timer of the state the run was claimed in can be due: a state entered
        // while driving has just started its own.
        var isTimeoutDue = claimed.isTimeoutDue
        // A state this driver entered itself has no journaled steps yet; one it was
        // claimed in may have some (a crashed worker's), which are answered from the
        // journal, if the run's newest entry is a step's.
        var visitHasNoJournaledSteps = !claimed.hasJournaledStepsThisVisit
        // Set once a deadline's write found its approval decided meanwhile.
        var lostDeadlineRace = false
        while true {
            if case .finished(let outcome) = position.phase { return .finished(outcome) }
            let contextBefore = context
            var consumed: InboxEvent?
            var writes: [TransitionWrite] = []
            var stepEntries: [RunMove.Entry] = []
            // The new context as JSON, when acting or receiving an event encoded it already.
            var encodedAlready: String?
            // The approval request to journal with the move (its action and the policy's decision).
            var approvalRequest: String?
            let input: RunInput<W>
            if let cancelReason {
                input = .cancel(reason: cancelReason)
                if case .awaitingApproval = position.phase { writes.append(store.withdrawingApproval(of: claimed.id, visit: position.visit)) }
            } else {
                switch position.phase {
                case .acting:
                    let steps = StepJournal(
                        store: store, runID: claimed.id, standing: RowChange(position, context: encodedContext), seq: seq,
                        isFreshVisit: visitHasNoJournaledSteps, holdsLease: holdsLease
                    )
                    do {
                        (input, context, encodedAlready, writes) = try await act(definition, in: position.state, context: context, steps: steps)
                    } catch is FencedOut {
                        return .fencedOut
                    }
                    seq = steps.currentSeq
                    stepEntries = steps.takeUnjournaled()
                case .waiting(let events, _):
                    if let event = try await store.oldestEvent(for: claimed.id, named: events) {
                        do {
                            (context, encodedAlready) = try receive(definition, event, in: position.state, into: context)
                        } catch {
                            // Refused: consumed and journaled with the error; the run goes on waiting.
                            let refusal = RunMove.Entry(
                                record: JournalRecord(.eventReceived, from: position.state.rawValue, reason: event.name, error: "refused: \(error)"),
                                payload: event.payload, eventID: event.id
                            )
                            let move = RunMove(
                                journaling: [refusal], of: claimed.id, expectedSeq: seq,
                                standing: RowChange(position, context: encodedContext)
                            )
                            guard try await store.commit(move, writes: []) != nil else { return .fencedOut }
                            seq += 1
                            continue
                        }
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
                case .awaitingChildren:
                    guard let (finished, cancelSiblings) = try await finishedChildren(definition, of: claimed.id, in: position.state) else {
                        try await store.release(claimed, expectedSeq: seq)
                        return .waiting
                    }
                    guard case .children(let spec)? = definition.definition(of: position.state)?.kind else {
                        preconditionFailure("finishedChildren checked the state's kind")
                    }
                    try spec.collect(&context, finished)
                    input = .childrenFinished(succeeded: finished.allSatisfy { $0.outcome == .succeeded })
                    if cancelSiblings {
                        let (store, parent) = (store, claimed.id)
                        writes.append { try await store.cancelUnfinishedChildren(of: parent, reason: "a sibling finished first", on: $0) }
                    }
                case .requestingApproval:
                    let request = try requestApproval(definition, of: claimed.id, at: position, context: context)
                    (input, context, approvalRequest) = (request.input, request.context, request.journaled)
                    writes += request.writes
                case .awaitingApproval:
                    if let event = try await store.oldestEvent(for: claimed.id, named: [ApprovalDesk.decisionEvent]) {
                        let decision = try JSONDecoder().decode(DecisionEvent.self, from: Data((event.payload ?? "").utf8))
                        guard let outcome = decision.outcome else {
                            // One vote of several: journaled; the run waits for the rest.
                            let vote = RunMove.Entry(
                                record: JournalRecord(.approvalDecided, from: position.state.rawValue, reason: decision.journalReason),
                                payload: event.payload, eventID: event.id
                            )
                            let move = RunMove(journaling: [vote], of: claimed.id, expectedSeq: seq, standing: RowChange(position, context: encodedContext))
                            guard try await store.commit(move, writes: []) != nil else { return .fencedOut }
                            seq += 1
                            continue
                        }
                        if outcome == .approved {
                            context = try await applyDecided(definition, decision.approvalID, in: position.state, to: context)
                        }
                        consumed = event
                        input = .approvalDecided(outcome, by: "\(decision.actor) (\(decision.role))")
                    } else if isTimeoutDue {
                        guard !lostDeadlineRace, let pending = try await store.pendingApproval(of: claimed.id, visit: position.visit) else {
                            throw BatonError(.storedRun, "run \(claimed.id) waits on an approval that is neither pending nor decided in its inbox")
                        }
                        if case .conclude(.approved) = pending.afterDeadline {
                            context = try await applyDecided(definition, pending.id, in: position.state, to: context)
                        }
                        writes.append(store.passingDeadline(of: pending))
                        input = .approvalDeadlinePassed(pending.afterDeadline)
                    } else {
                        try await store.release(claimed, expectedSeq: seq)
                        return .waiting
                    }
                case .finished:
                    preconditionFailure("handled above")
                }
            }
            let result = try definition.transition(from: position, on: input)
            if case .awaitingChildren = result.position.phase {
                writes.append(try store.startingChildren(W.self, of: claimed.id, in: result.position.state, context: context))
            }
            let movedContext = try encodedAlready ?? RunStore.encode(context)
            var move = RunMove(
                result, of: claimed.id, expectedSeq: seq, context: movedContext,
                sleepsUntil: definition.sleepEnd(entering: result.position, context: context),
                consuming: consumed, after: stepEntries, mayHaveParent: claimed.parentRunID != nil
            )
            if let approvalRequest { move.attach(payload: approvalRequest, toFirst: .approvalRequested) }
            let committed: RunStore.Committed?
            do {
                committed = try await store.commit(move, writes: writes)
            } catch is ApprovalDecidedMeanwhile {
                // A decision beat the deadline: it waits in the inbox; take it instead.
                lostDeadlineRace = true
                context = contextBefore
                continue
            }
            guard let committed else { return .fencedOut }
            encodedContext = movedContext
            seq += move.entries.count
            position = result.position
            cancelReason = committed.cancelReason
            isTimeoutDue = false
            visitHasNoJournaledSteps = true
        }
    }

    /// What a run entering approval state `position` does: its action proposed, the
    /// policy's decision as the input, the context (with the action applied if the policy
    /// executes it), the request to journal and the write that records the approval.
    private func requestApproval<W: Workflow>(
        _ definition: Definition<W>, of runID: UUID, at position: RunPosition<W>, context: W.Context
    ) throws -> (input: RunInput<W>, context: W.Context, journaled: String?, writes: [TransitionWrite]) {
        guard case .approval(let spec)? = definition.definition(of: position.state)?.kind else {
            throw BatonError(.storedRun, "run \(runID) asks for approval in \(position.state.rawValue), which is not an approval state")
        }
        guard let policy = policies.policy(named: spec.policy) else {
            throw BatonError(.configuration, "policy \(spec.policy), which \(W.name) state \(position.state.rawValue) names, is not loaded")
        }
        let action: ProposedAction
        do {
            action = try spec.propose(context)
        } catch {
            return (.actionFailed(error: "proposing the action failed: \(error)"), context, nil, [])
        }
        if let payload = action.payload, !isJSON(payload) {
            return (.actionFailed(error: "proposing the action failed: its payload is not JSON"), context, nil, [])
        }
        guard let rule = policy.decide(action, workflow: W.name) else {
            throw BatonError(.configuration, "policy \(policy.name) has no rule for a \(action.kind) action")
        }
        let approvalID = UUID()
        let write = try store.requestingApproval(
            approvalID, runID: runID, workflow: W.name, state: position.state.rawValue, visit: position.visit,
            action: action, policy: policy, rule: rule
        )
        let journaled = try RunStore.encode(ApprovalRequest(approvalID: approvalID, policy: policy.name, rule: rule.name, decision: rule.decision.name, action: action))
        switch rule.decision {
        case .autoExecute:
            do {
                let applied = try spec.applying(DecidedAction(proposed: action, payload: action.payload, wasEdited: false), to: context)
                return (.approvalRouted(.execute), applied, journaled, [write])
            } catch {
                return (.actionFailed(error: "applying the auto-executed action failed: \(error)"), context, nil, [])
            }
        case .suggestOnly:
            return (.approvalRouted(.suggest), context, journaled, [write])
        case .requireApproval(let chain), .escalate(let chain):
            let first = StoredApproverLevel(chain.levels[0], in: policy)
            let escalated = if case .escalate = rule.decision { true } else { false }
            return (.approvalRouted(.ask(roles: first.roleNames, deadline: chain.levels[0].deadline, escalated: escalated)), context, journaled, [write])
        }
    }

    /// The context once approval `approvalID`'s decided action (with edits) is applied.
    private func applyDecided<W: Workflow>(_ definition: Definition<W>, _ approvalID: UUID, in state: W.State, to context: W.Context) async throws -> W.Context {
        guard case .approval(let spec)? = definition.definition(of: state)?.kind else {
            throw BatonError(.storedRun, "\(state.rawValue) is not an approval state")
        }
        return try spec.applying(try await store.decidedAction(approvalID), to: context)
    }

    /// The context after the wait in `state` received `event` (its `receive` folds the
    /// event's data in), and its JSON when it changed; throws if `receive` refuses the event.
    private func receive<W: Workflow>(
        _ definition: Definition<W>, _ event: InboxEvent, in state: W.State, into context: W.Context
    ) throws -> (W.Context, String?) {
        guard case .wait(_, _, let receive?)? = definition.definition(of: state)?.kind else { return (context, nil) }
        var received = context
        try receive(&received, ReceivedEvent(name: event.name, data: event.payload))
        let encoded = try RunStore.encode(received)
        try store.checkSize(of: encoded, "the context event \(event.name) made")
        return (received, encoded)
    }

    /// The children a parent in `state` waits for, if they are done (all, or the first
    /// to finish), and whether the unfinished ones are to be cancelled; nil while it
    /// must go on waiting.
    private func finishedChildren<W: Workflow>(
        _ definition: Definition<W>, of parentID: UUID, in state: W.State
    ) async throws -> ([ChildrenSpec<W>.Finished], cancelSiblings: Bool)? {
        guard case .children(let spec)? = definition.definition(of: state)?.kind else {
            throw BatonError(.storedRun, "run \(parentID) waits for children in \(state.rawValue), which is not a children state")
        }
        let (count, finished) = try await store.children(of: parentID, for: W.self)
        switch spec.waitFor {
        case _ where count == 0: return ([], false)
        case .all: return finished.count == count ? (finished, false) : nil
        case .first: return finished.first.map { ([$0], finished.count < count) }
        }
    }

    /// Runs the action body of `state`; returns the input its outcome makes, the
    /// context to journal with it (and its JSON) and the writes to commit with it
    /// (unchanged context and no writes if the body threw).
    private func act<W: Workflow>(
        _ definition: Definition<W>, in state: W.State, context: W.Context, steps: StepJournal
    ) async throws -> (RunInput<W>, W.Context, String?, [TransitionWrite]) {
        guard case .action(_, _, _, let body)? = definition.definition(of: state)?.kind else {
            throw BatonError(.storedRun, "run \(steps.runID) is acting in \(state.rawValue), which is not an action state")
        }
        var run = ActionRun<W>(context: context, steps: steps, models: models)
        do {
            let next = try await body(&run)
            // A context grown past the payload limit is refused like a failed step.
            let encoded = try RunStore.encode(run.context)
            try steps.store.checkSize(of: encoded, "the context \(state.rawValue) made")
            return (.actionReturned(next), run.context, encoded, run.transitionWrites)
        } catch let error where error is FencedOut || error is CancellationError || error is JournalingFailed {
            throw error
        } catch let refused as BudgetExceeded {
            return (.budgetExceeded(detail: refused.description), context, nil, [])
        } catch {
            return (.actionFailed(error: "\(error)"), context, nil, [])
        }
    }
}

/// What an `approval-requested` entry journals.
private struct ApprovalRequest: Encodable {
    let approvalID: UUID
    let policy: String
    let rule: String
    let decision: String
    let action: ProposedAction
}
