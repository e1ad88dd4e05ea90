import Foundation

/// The workflow definitions a process knows, by name and version.
///
/// ```swift
/// var registry = WorkflowRegistry()
/// try registry.register(OrderDelay.self)      // validated here; a bad definition throws
/// registry.workflow(named: "order-delay")?.version
/// ```
/// A worker runs only the versions registered with it; runs pinned to other versions
/// are left for workers that have them.
public struct WorkflowRegistry: Sendable {
    private var entries: [String: [Int: RegisteredWorkflow]] = [:]

    public init() {}

    /// Validates `workflow`'s definition and adds it. Throws a ``DefinitionError``
    /// if the definition has a problem or the same name and version is registered.
    public mutating func register<W: Workflow>(_ workflow: W.Type) throws {
        try W.definition.validate()
        guard entries[W.name]?[W.version] == nil else {
            throw DefinitionError(.duplicate, "workflow \(W.name) v\(W.version) is registered twice")
        }
        entries[W.name, default: [:]][W.version] = RegisteredWorkflow(W.self)
    }

    /// The workflow with this name: the given version, or the newest when `version` is nil.
    public func workflow(named name: String, version: Int? = nil) -> RegisteredWorkflow? {
        guard let versions = entries[name] else { return nil }
        if let version { return versions[version] }
        return versions.max { $0.key < $1.key }?.value
    }

    /// Every registered workflow, by name, then version.
    public var workflows: [RegisteredWorkflow] {
        entries.values.flatMap(\.values).sorted { ($0.name, $0.version) < ($1.name, $1.version) }
    }
}

/// A registered workflow as listings see it, and the Swift type behind it.
public struct RegisteredWorkflow: Sendable {
    /// One state, for listings: its name, kind and where it may go.
    public struct StateSummary: Sendable, Hashable, Codable {
        public let name: String
        public let kind: String
        public let targets: [String]
    }

    public let name: String
    public let version: Int
    public let initialState: String
    /// The states in declaration order.
    public let states: [StateSummary]
    /// The workflow type, for the runtime.
    public let workflowType: any Workflow.Type
    /// The policies its approval states name.
    public let approvalPolicies: [String]
    /// Checks an approver's edit of the action proposed in approval state `state` of a
    /// run with `context` (JSON): throws if the state's `apply` refuses it.
    let checkEdit: @Sendable (_ state: String, _ context: String, _ action: DecidedAction) throws -> Void

    init<W: Workflow>(_ workflow: W.Type) {
        let definition = W.definition
        name = W.name
        version = W.version
        initialState = definition.initial.rawValue
        states = definition.states.map {
            StateSummary(name: $0.state.rawValue, kind: $0.kindName, targets: $0.targets.map(\.rawValue))
        }
        workflowType = workflow
        approvalPolicies = definition.states.compactMap {
            guard case .approval(let spec) = $0.kind else { return nil }
            return spec.policy
        }
        checkEdit = { state, context, action in
            guard let state = W.State(rawValue: state), case .approval(let spec)? = W.builtDefinition.definition(of: state)?.kind else {
                throw BatonError(.storedRun, "\(W.name) v\(W.version) has no approval state \(state)")
            }
            _ = try spec.applying(action, to: try JSONDecoder().decode(W.Context.self, from: Data(context.utf8)))
        }
    }
}
