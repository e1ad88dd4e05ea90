import Foundation

/// What an action state's body works with: the run's context, which it may change,
/// and which run and visit it is.
///
/// Changes to ``context`` are journaled with the transition the body returns; if the
/// body throws, they are discarded with it.
public struct ActionRun<W: Workflow>: Sendable {
    /// The run's business data; change it in place.
    public var context: W.Context
    /// The run this body works for.
    public let runID: UUID
    /// The run's visit number (see ``RunPosition/visit``): with the run id and a
    /// step's name, it makes the idempotency key external systems deduplicate by.
    public let visit: Int

    public init(context: W.Context, runID: UUID, visit: Int) {
        self.context = context
        self.runID = runID
        self.visit = visit
    }
}
