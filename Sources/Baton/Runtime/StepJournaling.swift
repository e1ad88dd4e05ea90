/// When a completed step's output is journaled; see ``ActionRun/step(_:retry:journal:_:)``.
public enum StepJournaling: Sendable, Hashable {
    /// At once if the step took 10 ms or more (a model call, a remote API), so it is
    /// never paid for twice; a quicker step as ``withNextCommit``. The default.
    case automatic
    /// As soon as the step ends, in a commit of its own.
    case atOnce
    /// With the next step's or the transition's commit, whichever comes first, so an
    /// action with one step costs one commit. If the worker dies before that commit,
    /// the step runs again, with the same idempotency key, like a step in flight.
    case withNextCommit

    /// Steps that ran this long are journaled at once under ``automatic``.
    static let automaticThreshold = Duration.milliseconds(10)

    func journalsAtOnce(after duration: Duration) -> Bool {
        switch self {
        case .automatic: duration >= Self.automaticThreshold
        case .atOnce: true
        case .withNextCommit: false
        }
    }
}
