/// The states of a ``Workflow`` and the transitions between them.
///
/// Built with ``StateBuilder`` from ``Action``, ``Wait``, ``Sleep``, ``Children``, ``Approval`` and ``Terminal``
/// declarations; validated by ``validate()`` when registered.
public struct Definition<W: Workflow>: Sendable {
    /// The state a run starts in.
    public let initial: W.State
    /// The declared states, in declaration order.
    let states: [StateDefinition<W>]
    /// Where each state's first declaration is in ``states``: the runtime looks states
    /// up several times a transition.
    private let positions: [W.State: Int]

    public init(initial: W.State, @StateBuilder<W> states: () -> [StateDefinition<W>]) {
        let declared = states()
        self.initial = initial
        self.states = declared
        positions = Dictionary(zip(declared.map(\.state), declared.indices), uniquingKeysWith: { first, _ in first })
    }

    /// The declaration of `state` (its first, if it was declared twice), if there is one.
    func definition(of state: W.State) -> StateDefinition<W>? {
        positions[state].map { states[$0] }
    }
}

/// One declared state: what it does and where it may go next.
public struct StateDefinition<W: Workflow>: Sendable {
    /// What a state does when a run enters it.
    enum Kind: Sendable {
        /// Runs its body, which returns one of `targets`; after a step's last failed
        /// attempt the run goes to `onError`, or fails if there is none; a model call
        /// refused by a budget goes to `onBudgetExceeded` (else as an error).
        case action(targets: [W.State], onError: W.State?, onBudgetExceeded: W.State?, body: ActionBody<W>)
        /// Waits durably for one of the named events, or for the timeout; `receive`
        /// folds an event's data into the context.
        case wait(events: [(name: String, target: W.State)], timeout: Timeout<W.State>?, receive: EventReceiver<W>?)
        /// A durable timer: waits until `end`, then goes to `target`.
        case sleep(end: SleepDeclaration<W>, target: W.State)
        /// Starts child runs and waits for them.
        case children(ChildrenSpec<W>)
        /// Proposes an action, has a policy decide it, and waits for people if it says so.
        case approval(ApprovalSpec<W>)
        /// The run ends here.
        case terminal(Outcome)
    }

    let state: W.State
    let kind: Kind

    /// Every state this one may lead to, in declaration order.
    var targets: [W.State] {
        switch kind {
        case .action(let targets, let onError, let onBudgetExceeded, _): targets + [onError, onBudgetExceeded].compactMap { $0 }
        case .wait(let events, let timeout, _): events.map(\.target) + (timeout.map { [$0.target] } ?? [])
        case .sleep(_, let target): [target]
        case .children(let spec): [spec.next, spec.failed]
        case .approval(let spec):
            [spec.approved, spec.rejected, spec.expired, spec.suggested].reduce(into: []) { unique, state in
                if !unique.contains(state) { unique.append(state) }
            }
        case .terminal: []
        }
    }

    var isTerminal: Bool {
        if case .terminal = kind { return true }
        return false
    }

    /// `action`, `wait`, `sleep` or `terminal`, for listings.
    var kindName: String {
        switch kind {
        case .action: "action"
        case .wait: "wait"
        case .sleep: "sleep"
        case .children(let spec): "children (\(spec.childType.name), wait for \(spec.waitFor.rawValue))"
        case .approval(let spec): "approval (policy \(spec.policy))"
        case .terminal(let outcome): "terminal (\(outcome.rawValue))"
        }
    }
}

/// What an action state runs: it reads and changes the run's context, runs steps,
/// and returns the next state.
public typealias ActionBody<W: Workflow> = @Sendable (inout ActionRun<W>) async throws -> W.State

/// Collects state declarations into a ``Definition``.
@resultBuilder
public enum StateBuilder<W: Workflow> {
    public static func buildExpression(_ action: Action<W>) -> [StateDefinition<W>] { [action.definition] }
    public static func buildExpression(_ wait: Wait<W>) -> [StateDefinition<W>] { [wait.definition] }
    public static func buildExpression(_ sleep: Sleep<W>) -> [StateDefinition<W>] { [sleep.definition] }
    public static func buildExpression(_ approval: Approval<W>) -> [StateDefinition<W>] { [approval.definition] }
    public static func buildExpression(_ terminal: Terminal<W>) -> [StateDefinition<W>] { [terminal.definition] }
    public static func buildExpression(_ children: Children<W>) -> [StateDefinition<W>] { [children.definition] }
    public static func buildBlock(_ components: [StateDefinition<W>]...) -> [StateDefinition<W>] { components.flatMap { $0 } }
    public static func buildArray(_ components: [[StateDefinition<W>]]) -> [StateDefinition<W>] { components.flatMap { $0 } }
    public static func buildOptional(_ component: [StateDefinition<W>]?) -> [StateDefinition<W>] { component ?? [] }
    public static func buildEither(first component: [StateDefinition<W>]) -> [StateDefinition<W>] { component }
    public static func buildEither(second component: [StateDefinition<W>]) -> [StateDefinition<W>] { component }
}
