/// A workflow: an explicit state machine over a typed business context.
///
/// ```swift
/// struct OrderDelay: Workflow {
///     static let name = "order-delay"
///     static let version = 1
///     struct Context: Codable, Sendable { var orderID: String; var inStock: Int; var plan: String? }
///     enum State: String, WorkflowState { case assess, plan, awaitCarrier, done, cancelled }
///
///     static var definition: Definition<Self> {
///         Definition(initial: .assess) {
///             Action(.assess, to: .done, .plan) { run in
///                 run.context.inStock > 0 ? .done : .plan
///             }
///             Action(.plan, to: .awaitCarrier) { run in
///                 run.context.plan = "reroute via Rotterdam"
///                 return .awaitCarrier
///             }
///             Wait(.awaitCarrier, on: ["carrier-confirmed": .done], timeout: .after(.seconds(48 * 3600), goto: .cancelled))
///             Terminal(.done)
///             Terminal(.cancelled, outcome: .cancelled)
///         }
///     }
/// }
/// ```
/// A definition is checked when it is registered (see ``WorkflowRegistry``): every
/// target must be a declared state, every state reachable, a terminal state reachable.
public protocol Workflow: Sendable {
    /// The business data a run carries from state to state, journaled with each transition.
    associatedtype Context: Codable & Sendable
    /// The named states.
    associatedtype State: WorkflowState

    /// The workflow's name, unique within a registry; runs are started by it.
    static var name: String { get }
    /// The definition version; a run keeps the version it started with.
    static var version: Int { get }
    /// The states and their transitions.
    static var definition: Definition<Self> { get }
}

/// The states of a workflow: a `String` enum, each case a state's stable name.
public protocol WorkflowState: RawRepresentable<String>, Hashable, Sendable, CaseIterable {}

/// How a run ended.
public enum Outcome: String, Sendable, Codable, CaseIterable {
    case succeeded
    case failed
    case cancelled
}
