/// Something that happened to a run, for the transition logic to act on.
public enum RunInput<W: Workflow>: Sendable, Hashable {
    /// The run is started: it enters the initial state.
    case start
    /// An action's body returned its next state.
    case actionReturned(W.State)
    /// An action's body threw, or a step failed its last attempt.
    case actionFailed(error: String)
    /// A model call of the action was not made: it could have passed a ``ModelBudget``.
    case budgetExceeded(detail: String)
    /// An event arrived for a waiting run.
    case eventReceived(name: String)
    /// A sleep ended, or a wait's timeout passed.
    case timerFired
    /// The children the state waits for have finished; `succeeded` if every one did.
    case childrenFinished(succeeded: Bool)
    /// The policy decided the proposed action of an approval state.
    case approvalRouted(ApprovalRouting)
    /// Approvers decided (or a policy, or a deadline, `by` says which).
    case approvalDecided(ApprovalOutcome, by: String)
    /// The deadline of the approvers asked now passed.
    case approvalDeadlinePassed(AfterDeadline)
    /// Someone cancelled the run.
    case cancel(reason: String)
}

/// Where a policy's decision sends a run in an approval state.
public enum ApprovalRouting: Sendable, Hashable {
    /// Auto-execute: approved at once.
    case execute
    /// Suggest only: recorded, not carried out.
    case suggest
    /// Wait for `roles`, until `deadline`; `escalated` when the policy escalated at once.
    case ask(roles: [String], deadline: Duration, escalated: Bool)
}

/// What an approval's passed deadline leads to.
public enum AfterDeadline: Sendable, Hashable {
    /// The next level of approvers is asked, until its own deadline.
    case escalate(to: [String], deadline: Duration)
    /// The chain is over: the outcome its `whenExpired` gives.
    case conclude(ApprovalOutcome)
}
