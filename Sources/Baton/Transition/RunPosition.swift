/// Where a run stands: the state it is in, what it is doing there, and how many
/// states it has entered so far.
public struct RunPosition<W: Workflow>: Sendable, Hashable {
    /// What the run is doing in its state.
    public enum Phase: Sendable, Hashable {
        /// An action state's body is to run (or is running).
        case acting
        /// Waiting for one of the events, or until the timeout passes.
        case waiting(events: [String], timeout: Duration?)
        /// A durable timer runs, until its end.
        case sleeping(SleepEnd)
        /// Child runs were started; waiting for them.
        case awaitingChildren
        /// In an approval state, its action is to be proposed and decided by the policy.
        case requestingApproval
        /// Waiting for approvers, until `deadline` from when they were asked (nil when
        /// read back from a stored row: the deadline is on the approval).
        case awaitingApproval(deadline: Duration?)
        /// The run is over.
        case finished(Outcome)
    }

    public var state: W.State
    public var phase: Phase
    /// The run's visit number: 1 for the initial state, one more per transition. With
    /// the run id and a step's name it is the step's idempotency key.
    public var visit: Int

    public init(state: W.State, phase: Phase, visit: Int) {
        self.state = state
        self.phase = phase
        self.visit = visit
    }

    public var isFinished: Bool {
        if case .finished = phase { return true }
        return false
    }
}

/// When a sleeping run wakes.
public enum SleepEnd: Sendable, Hashable {
    /// This long after it entered the state.
    case after(Duration)
    /// At the time its context gave as it entered the state (``Sleep/init(_:until:then:)``):
    /// the runtime reads it, since the transition logic does not see the context.
    case atContextTime
}
