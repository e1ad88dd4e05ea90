import Foundation
import LibPQ

/// What an action state's body works with: the run's context, which it may change,
/// its steps, and which run and visit it is.
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
    let steps: StepJournal
    /// The models ``model(_:task:_:)`` routes to, if the worker was given any.
    let models: ModelRouter?
    /// SQL to run inside the transition's transaction, in order.
    private(set) var transitionWrites: [TransitionWrite] = []

    init(context: W.Context, steps: StepJournal, models: ModelRouter?) {
        self.context = context
        runID = steps.runID
        visit = steps.visit
        self.steps = steps
        self.models = models
    }

    /// Runs `write` inside the transaction that commits the transition this body
    /// returns: the business rows it writes and the workflow's progress commit
    /// together or not at all (a crash, a lost lease or a failing write leaves neither).
    ///
    /// ```swift
    /// run.withinTransition { connection in
    ///     try await connection.query("INSERT INTO shipments (order_id, carrier) VALUES (\(orderID), \(carrier))")
    /// }
    /// return .shipped
    /// ```
    /// The write runs when the transition commits, after the body has returned, and
    /// not at all if the body throws. A write that throws fails the commit; the run is
    /// retried by the next worker to claim it.
    public mutating func withinTransition(_ write: @escaping TransitionWrite) {
        transitionWrites.append(write)
    }

    /// Runs a unit of work once per visit: once its output is journaled, a run that
    /// comes back here after a crash gets that output without running `body` again (a
    /// model call is never paid for twice). A step that was in flight at a crash runs
    /// again with the same idempotency key.
    ///
    /// `journal` says when the output is journaled: by default a step that took 10 ms
    /// or more as soon as it ends, a quicker one with the next step or the transition,
    /// which saves a commit (if the worker dies before that, it runs again like a step
    /// in flight). See ``StepJournaling``.
    ///
    /// ```swift
    /// let stock = try await run.step("check-inventory") { attempt in
    ///     try await erp.stock(run.context.orderID, idempotencyKey: attempt.idempotencyKey)
    /// }
    /// ```
    /// After its last attempt fails the step throws ``StepFailure``; let it propagate
    /// and the state's error transition is taken (or the run fails).
    nonisolated(nonsending) public func step<Output: Codable & Sendable>(
        _ name: String, retry: RetryPolicy = .default, journal: StepJournaling = .automatic,
        _ body: (StepAttempt) async throws -> Output
    ) async throws -> Output {
        try await steps.step(name, retry: retry, journal: journal, body)
    }
}

/// SQL an action commits with its transition; see ``ActionRun/withinTransition(_:)``.
public typealias TransitionWrite = @Sendable (PostgresConnection) async throws -> Void
