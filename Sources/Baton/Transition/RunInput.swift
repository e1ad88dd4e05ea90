/// Something that happened to a run, for the transition logic to act on.
public enum RunInput<W: Workflow>: Sendable, Hashable {
    /// The run is started: it enters the initial state.
    case start
    /// An action's body returned its next state.
    case actionReturned(W.State)
    /// An action's body threw, or a step failed its last attempt.
    case actionFailed(error: String)
    /// An event arrived for a waiting run.
    case eventReceived(name: String)
    /// A sleep ended, or a wait's timeout passed.
    case timerFired
    /// The children the state waits for have finished; `succeeded` if every one did.
    case childrenFinished(succeeded: Bool)
    /// Someone cancelled the run.
    case cancel(reason: String)
}
