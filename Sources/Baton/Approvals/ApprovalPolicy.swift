import Foundation

/// Decides what happens to a ``ProposedAction``: the first rule whose condition the
/// action meets gives the decision; the last rule, with no condition, is the default.
///
/// ```swift
/// ApprovalPolicy(
///     name: "logistics",
///     roles: ["logistics": ["alice", "bob"], "ops-lead": ["carol"]],
///     rules: [
///         PolicyRule("small reroutes", when: ActionMatch(kinds: ["reroute"], amountBelow: 1_000), decide: .autoExecute),
///         PolicyRule("reroutes", when: ActionMatch(kinds: ["reroute"]), decide: .requireApproval(ApprovalChain([
///             ApproverLevel(roles: ["logistics"], deadline: .seconds(4 * 3600)),
///             ApproverLevel(roles: ["ops-lead"], deadline: .seconds(3600)),
///         ], whenExpired: .reject))),
///         PolicyRule("anything else", decide: .suggestOnly),
///     ]
/// )
/// ```
/// The same can be loaded from a JSON file (``PolicyBook/load(from:)``), so operations
/// change thresholds without recompiling.
public struct ApprovalPolicy: Sendable, Hashable {
    public let name: String
    /// Who holds each role: role name → user names. Only they may approve as that role.
    public var roles: [String: [String]]
    /// Whether the one who requested an action (``ProposedAction/requestedBy``) is
    /// barred from approving it.
    public var fourEyes: Bool
    /// Checked in order; the first that matches decides.
    public var rules: [PolicyRule]

    public init(name: String, roles: [String: [String]], fourEyes: Bool = true, rules: [PolicyRule]) {
        self.name = name
        self.roles = roles
        self.fourEyes = fourEyes
        self.rules = rules
    }

    /// The first rule `action` (proposed by a run of `workflow`) meets, and its decision.
    /// A validated policy always has one: its last rule matches every action.
    public func decide(_ action: ProposedAction, workflow: String) -> PolicyRule? {
        rules.first { $0.condition?.matches(action, workflow: workflow) ?? true }
    }

    /// Throws a ``PolicyError`` naming the policy and the rule at fault: no rules, no
    /// default rule last, a rule no action can reach, an unknown role, a role with no
    /// one in it, a quorum the roles can't meet, a deadline that is not positive.
    public func validate() throws {
        func fail(_ message: String) -> PolicyError { PolicyError("policy \(name.isEmpty ? "(unnamed)" : name): \(message)") }
        guard !name.isEmpty else { throw fail("a policy needs a name") }
        for (role, members) in roles.sorted(by: { $0.key < $1.key }) where members.isEmpty {
            throw fail("role \(role) has no members, so no one could approve as it")
        }
        guard let last = rules.last else { throw fail("it has no rules") }
        for (index, rule) in rules.enumerated() {
            let label = "rule \(index + 1) (\(rule.name))"
            if let catchAll = rules[..<index].firstIndex(where: { $0.condition == nil }) {
                throw fail("\(label) can never match: rule \(catchAll + 1) (\(rules[catchAll].name)) before it matches every action")
            }
            if let impossible = rule.condition?.impossibility {
                throw fail("\(label) can never match: \(impossible)")
            }
            guard let chain = rule.decision.chain else { continue }
            guard !chain.levels.isEmpty else { throw fail("\(label) names no approvers") }
            for (level, approvers) in chain.levels.enumerated() {
                let at = "\(label), approver level \(level + 1)"
                guard !approvers.roles.isEmpty else { throw fail("\(at) names no role") }
                if let unknown = approvers.roles.first(where: { roles[$0] == nil }) {
                    throw fail("\(at) names role \(unknown), which the policy does not declare (it declares \(roles.keys.sorted().joined(separator: ", ")))")
                }
                guard approvers.deadline > .zero else { throw fail("\(at) has a deadline that is not positive") }
                let people = Set(approvers.roles.flatMap { roles[$0] ?? [] })
                guard approvers.quorum >= 1, approvers.quorum <= people.count else {
                    throw fail("\(at) asks a quorum of \(approvers.quorum), but \(people.count) people hold its roles")
                }
            }
        }
        if last.condition != nil {
            throw fail("it has no default rule: its last rule (\(last.name)) must match every action (give it no condition)")
        }
    }
}

/// One rule of an ``ApprovalPolicy``: a condition and the decision for the actions that meet it.
public struct PolicyRule: Sendable, Hashable {
    public var name: String
    /// nil: every action (the default rule, last).
    public var condition: ActionMatch?
    public var decision: PolicyDecision

    public init(_ name: String, when condition: ActionMatch? = nil, decide decision: PolicyDecision) {
        self.name = name
        self.condition = condition
        self.decision = decision
    }
}

/// What a proposed action must be for a rule to match: every constraint given must
/// hold (a nil one is no constraint). Bounds are `atLeast` inclusive, `below` exclusive;
/// an action without an amount (risk, confidence) meets no bound on it.
public struct ActionMatch: Sendable, Hashable, Codable {
    public var kinds: [String]?
    public var workflows: [String]?
    public var amountAtLeast: Double?
    public var amountBelow: Double?
    public var riskAtLeast: Double?
    public var riskBelow: Double?
    public var confidenceAtLeast: Double?
    public var confidenceBelow: Double?
    /// Attributes the action must carry with exactly these values.
    public var attributes: [String: String]?

    public init(
        kinds: [String]? = nil, workflows: [String]? = nil, amountAtLeast: Double? = nil, amountBelow: Double? = nil,
        riskAtLeast: Double? = nil, riskBelow: Double? = nil, confidenceAtLeast: Double? = nil, confidenceBelow: Double? = nil,
        attributes: [String: String]? = nil
    ) {
        self.kinds = kinds
        self.workflows = workflows
        self.amountAtLeast = amountAtLeast
        self.amountBelow = amountBelow
        self.riskAtLeast = riskAtLeast
        self.riskBelow = riskBelow
        self.confidenceAtLeast = confidenceAtLeast
        self.confidenceBelow = confidenceBelow
        self.attributes = attributes
    }

    public func matches(_ action: ProposedAction, workflow: String) -> Bool {
        func within(_ value: Double?, atLeast: Double?, below: Double?) -> Bool {
            guard atLeast != nil || below != nil else { return true }
            guard let value else { return false }
            return value >= (atLeast ?? -.infinity) && value < (below ?? .infinity)
        }
        return (kinds?.contains(action.kind) ?? true)
            && (workflows?.contains(workflow) ?? true)
            && within(action.amount, atLeast: amountAtLeast, below: amountBelow)
            && within(action.riskScore, atLeast: riskAtLeast, below: riskBelow)
            && within(action.confidence, atLeast: confidenceAtLeast, below: confidenceBelow)
            && (attributes ?? [:]).allSatisfy { action.attributes[$0.key] == $0.value }
    }

    /// Why no action can meet this condition, if none can.
    var impossibility: String? {
        if kinds?.isEmpty == true { return "its list of kinds is empty" }
        if workflows?.isEmpty == true { return "its list of workflows is empty" }
        for (what, atLeast, below) in [
            ("amount", amountAtLeast, amountBelow), ("risk", riskAtLeast, riskBelow), ("confidence", confidenceAtLeast, confidenceBelow),
        ] {
            if let atLeast, let below, atLeast >= below { return "no \(what) is at least \(atLeast) and below \(below)" }
        }
        return nil
    }
}

/// What a policy decides for an action.
public enum PolicyDecision: Sendable, Hashable {
    /// Carry it out without asking anyone.
    case autoExecute
    /// Record and surface it (`baton suggestions`), but do not carry it out.
    case suggestOnly
    /// Wait for the chain's approvers; each level has a deadline, after which the next
    /// level is asked, and after the last the chain's ``ApprovalChain/whenExpired`` applies.
    case requireApproval(ApprovalChain)
    /// Hand it to the chain's first level for review at once, as an escalation.
    case escalate(ApprovalChain)

    /// The approvers to wait for, if the decision waits for any.
    public var chain: ApprovalChain? {
        switch self {
        case .autoExecute, .suggestOnly: nil
        case .requireApproval(let chain), .escalate(let chain): chain
        }
    }

    /// `auto-execute`, `suggest-only`, `require-approval` or `escalate`: as journaled and stored.
    public var name: String {
        switch self {
        case .autoExecute: "auto-execute"
        case .suggestOnly: "suggest-only"
        case .requireApproval: "require-approval"
        case .escalate: "escalate"
        }
    }
}

/// Who approves, level by level, and what happens when the last level's deadline passes.
public struct ApprovalChain: Sendable, Hashable {
    public var levels: [ApproverLevel]
    public var whenExpired: ExpiryOutcome

    public init(_ levels: [ApproverLevel], whenExpired: ExpiryOutcome = .expire) {
        self.levels = levels
        self.whenExpired = whenExpired
    }
}

/// One level of an ``ApprovalChain``: who may approve, how many must, and by when.
public struct ApproverLevel: Sendable, Hashable {
    /// Holders of any of these roles may decide.
    public var roles: [String]
    /// Approvals needed (one rejection is enough to reject).
    public var quorum: Int
    /// How long this level has, from the moment it is asked.
    public var deadline: Duration

    public init(roles: [String], quorum: Int = 1, deadline: Duration) {
        self.roles = roles
        self.quorum = quorum
        self.deadline = deadline
    }
}

/// What the last deadline of an approval chain does.
public enum ExpiryOutcome: String, Sendable, Hashable, Codable {
    /// The run takes its approval state's `expired` transition.
    case expire
    /// The action counts as rejected.
    case reject
    /// The action counts as approved.
    case approve
}

/// Why a policy was refused: the message names the policy and the rule at fault.
public struct PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    /// Names and keys from the file are quoted in the message; their control
    /// characters are escaped so the message stays one line.
    init(_ message: String) {
        self.message = escapingControlCharacters(message)
    }

    public var description: String { message }
}
