import Foundation

/// An action state: runs `body`, which returns the next state, one of `targets`.
///
/// ```swift
/// Action(.assess, to: .done, .plan, onError: .manualReview) { run in
///     run.context.assessedAt = Date()
///     return run.context.stock > 0 ? .done : .plan
/// }
/// ```
/// Returning a state not in `targets` is an invalid transition: the run fails with that error.
public struct Action<W: Workflow>: Sendable {
    let definition: StateDefinition<W>

    /// - Parameters:
    ///   - targets: every state `body` may return.
    ///   - onError: where the run goes when a step fails its last attempt; without it, the run fails.
    ///   - onBudgetExceeded: where the run goes when a model call is refused because it
    ///     could pass a ``ModelBudget`` (for example, to a person); without it, as `onError`.
    public init(_ state: W.State, to targets: W.State..., onError: W.State? = nil, onBudgetExceeded: W.State? = nil, body: @escaping ActionBody<W>) {
        definition = StateDefinition(state: state, kind: .action(targets: targets, onError: onError, onBudgetExceeded: onBudgetExceeded, body: body))
    }
}

/// A wait state: the run holds no worker until one of the named events arrives (it
/// goes to that event's state) or the timeout passes.
///
/// ```swift
/// Wait(.awaitCarrier, on: ["confirmed": .ship, "declined": .replan], timeout: .after(.seconds(172_800), goto: .escalate))
/// ```
/// Events sent before the run reaches the wait are kept and consumed in order.
///
/// `receive` folds an event's data into the context, which is journaled with the
/// transition the event makes:
/// ```swift
/// Wait(.awaitCarrier, on: ["carrier-booked": .ship], receive: { context, event in
///     context.carrier = try event.decode(Booking.self).carrier
/// })
/// ```
/// An event whose data `receive` refuses (it throws) is consumed and journaled with
/// the error, and changes nothing else: the run goes on waiting.
public struct Wait<W: Workflow>: Sendable {
    let definition: StateDefinition<W>

    /// - Parameter events: event names and the state each leads to, in the order they are checked.
    public init(
        _ state: W.State, on events: KeyValuePairs<String, W.State>, timeout: Timeout<W.State>? = nil,
        receive: EventReceiver<W>? = nil
    ) {
        definition = StateDefinition(
            state: state,
            kind: .wait(events: events.map { (name: $0.key, target: $0.value) }, timeout: timeout, receive: receive)
        )
    }
}

/// Folds a received event's data into the run's context; throws to refuse the event.
public typealias EventReceiver<W: Workflow> = @Sendable (inout W.Context, ReceivedEvent) throws -> Void

/// An event a waiting run received.
public struct ReceivedEvent: Sendable, Hashable {
    public let name: String
    /// The event's data as JSON text, if it was sent with any.
    public let data: String?

    public init(name: String, data: String?) {
        self.name = name
        self.data = data
    }

    /// The data decoded as `T`; throws a clear error if there is none or it does not fit.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decodeCarried(data, as: T.self, "event \(name)'s data", carrier: "event \(name)")
    }
}

/// How long a wait lasts before it gives up, and where the run goes then.
public struct Timeout<State: WorkflowState>: Sendable {
    public let duration: Duration
    public let target: State

    /// `Wait(…, timeout: .after(.seconds(3600), goto: .escalate))`
    public static func after(_ duration: Duration, goto target: State) -> Timeout {
        Timeout(duration: duration, target: target)
    }
}

/// A durable timer: the run sleeps holding no worker, then goes to `then`.
///
/// ```swift
/// Sleep(.cooldown, for: .seconds(3600), then: .retry)
/// Sleep(.untilPickup, until: { $0.pickupTime }, then: .collect)
/// ```
public struct Sleep<W: Workflow>: Sendable {
    let definition: StateDefinition<W>

    /// Sleeps for `duration` from the moment the run enters the state.
    public init(_ state: W.State, for duration: Duration, then target: W.State) {
        definition = StateDefinition(state: state, kind: .sleep(end: .after(duration), target: target))
    }

    /// Sleeps until the time `deadline` reads from the context as the run enters the
    /// state (a pickup time, a market's opening); a time already past wakes it at once.
    public init(_ state: W.State, until deadline: @escaping @Sendable (W.Context) -> Date, then target: W.State) {
        definition = StateDefinition(state: state, kind: .sleep(end: .at(deadline), target: target))
    }
}

/// When a ``Sleep`` ends, as declared.
enum SleepDeclaration<W: Workflow>: Sendable {
    case after(Duration)
    /// At the time the context gives on entering the state.
    case at(@Sendable (W.Context) -> Date)

    /// The phase a run entering the sleep is in.
    var end: SleepEnd {
        switch self {
        case .after(let duration): .after(duration)
        case .at: .atContextTime
        }
    }
}

/// A terminal state: the run ends here with `outcome`.
public struct Terminal<W: Workflow>: Sendable {
    let definition: StateDefinition<W>

    public init(_ state: W.State, outcome: Outcome = .succeeded) {
        definition = StateDefinition(state: state, kind: .terminal(outcome))
    }
}

/// An approval state: the run proposes an action, a policy decides what happens to
/// it, and the run goes on by the outcome. While people decide, the run waits durably
/// (no worker, thread or memory held), for days if need be.
///
/// ```swift
/// Approval(.approveReroute, policy: "logistics",
///          proposing: { order in try ProposedAction(kind: "reroute", amount: order.rerouteCost, subject: order.orderID, payload: order.plan) },
///          approved: .book, rejected: .cancelled, expired: .manualReview,
///          apply: { order, action in order.plan = try action.decodePayload(String.self) })
/// ```
/// - `approved`: approved by people, by the policy (auto-execute), or by a deadline
///   whose chain says so. `apply` reads the decided action (with an approver's edits)
///   into the context first; an edit that `apply` refuses is refused when it is made.
/// - `rejected`: rejected by an approver, or by a deadline.
/// - `expired`: the last deadline passed (default: `rejected`).
/// - `suggested`: the policy only suggests the action; it is recorded for
///   `baton suggestions` and not carried out (default: `rejected`).
///
/// The policy is looked up by name in the worker's ``PolicyBook``.
public struct Approval<W: Workflow>: Sendable {
    let definition: StateDefinition<W>

    public init(
        _ state: W.State, policy: String, proposing propose: @escaping @Sendable (W.Context) throws -> ProposedAction,
        approved: W.State, rejected: W.State, expired: W.State? = nil, suggested: W.State? = nil,
        apply: (@Sendable (inout W.Context, DecidedAction) throws -> Void)? = nil
    ) {
        definition = StateDefinition(state: state, kind: .approval(ApprovalSpec(
            policy: policy, propose: propose, approved: approved, rejected: rejected,
            expired: expired ?? rejected, suggested: suggested ?? rejected, apply: apply
        )))
    }
}

/// What an ``Approval`` state declares.
struct ApprovalSpec<W: Workflow>: Sendable {
    let policy: String
    let propose: @Sendable (W.Context) throws -> ProposedAction
    let approved: W.State
    let rejected: W.State
    let expired: W.State
    let suggested: W.State
    let apply: (@Sendable (inout W.Context, DecidedAction) throws -> Void)?

    /// The state an outcome leads to.
    func target(of outcome: ApprovalOutcome) -> W.State {
        switch outcome {
        case .approved: approved
        case .rejected: rejected
        case .expired: expired
        }
    }

    /// The context once the approved `action` is applied to it.
    func applying(_ action: DecidedAction, to context: W.Context) throws -> W.Context {
        var applied = context
        try apply?(&applied, action)
        return applied
    }
}

/// How an approval ended, each its own transition.
public enum ApprovalOutcome: String, Sendable, Hashable, Codable {
    case approved, rejected, expired
}
