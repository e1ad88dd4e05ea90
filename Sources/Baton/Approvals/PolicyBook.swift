import Foundation

/// The approval policies a worker decides with, by name. Written in Swift, loaded
/// from a JSON or YAML file (``load(from:)``), or both: a file's policies replace the
/// built-in ones of the same name (``overridden(by:)``).
public struct PolicyBook: Sendable {
    public let policies: [String: ApprovalPolicy]

    /// No policies: for workers whose workflows have no approval states.
    public init() {
        policies = [:]
    }

    /// Validates every policy; throws a ``PolicyError`` for a bad one or a name used twice.
    public init(_ policies: [ApprovalPolicy]) throws {
        var byName: [String: ApprovalPolicy] = [:]
        for policy in policies {
            try policy.validate()
            guard byName[policy.name] == nil else { throw PolicyError("policy \(policy.name) is defined twice") }
            byName[policy.name] = policy
        }
        self.policies = byName
    }

    public func policy(named name: String) -> ApprovalPolicy? { policies[name] }

    /// These policies, with `other`'s replacing those of the same name.
    public func overridden(by other: PolicyBook) -> PolicyBook {
        PolicyBook(validated: policies.merging(other.policies) { _, replacement in replacement })
    }

    private init(validated: [String: ApprovalPolicy]) {
        policies = validated
    }

    /// Throws unless every approval state of `registry`'s workflows names a policy in this book.
    public func check(covers registry: WorkflowRegistry) throws {
        for workflow in registry.workflows {
            for policy in workflow.approvalPolicies where policies[policy] == nil {
                throw PolicyError(
                    "workflow \(workflow.name) v\(workflow.version) asks policy \(policy), which is not loaded (loaded: \(policies.keys.sorted().joined(separator: ", ")))"
                )
            }
        }
    }

    /// Reads a policy file (see the README's "Approvals" section for its format): JSON,
    /// or YAML when its name ends in `.yaml` or `.yml`. Throws a ``PolicyError`` naming
    /// the file, and the policy and rule at fault.
    public static func load(from url: URL) throws -> PolicyBook {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw PolicyError("can't read policy file \(url.path): \(error.localizedDescription)")
        }
        do {
            return ConfigurationFile.isYAML(url) ? try parseYAML(data) : try parse(data)
        } catch let error as PolicyError {
            throw PolicyError("\(url.lastPathComponent): \(error.message)")
        }
    }

    /// Parses policy-file JSON; see ``load(from:)``.
    public static func parse(_ data: Data) throws -> PolicyBook {
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw PolicyError("not valid JSON: \(decodingProblem(error))")
        }
        guard let file = json as? [String: Any] else { throw PolicyError("expected an object with \"policies\"") }
        try PolicyFileShape.check(file, allowed: ["policies"], at: "the file")
        guard let list = file["policies"] as? [Any] else { throw PolicyError("expected \"policies\": a list of policies") }
        return try PolicyBook(list.enumerated().map { index, entry in try PolicyFileShape.policy(entry, at: "policy \(index + 1)") })
    }
}

extension PolicyBook {
    /// Parses a policy file written in YAML: the same document as the JSON form, so the
    /// same keys, checks and messages apply.
    public static func parseYAML(_ data: Data) throws -> PolicyBook {
        do {
            return try parse(try ConfigurationFile.json(fromYAML: data))
        } catch let error as ConfigurationFile.Problem {
            throw PolicyError(error.message)
        }
    }
}

/// The JSON shape of a policy file, read strictly: an unknown key (a typo such as
/// `amountbelow`) is an error, not a silently ignored constraint.
private enum PolicyFileShape {
    static func check(_ object: [String: Any], allowed: Set<String>, at place: String) throws {
        if let problem = ConfigurationFile.unknownKey(in: object, allowed: allowed, at: place) { throw PolicyError(problem) }
    }

    static func object(_ value: Any?, at place: String) throws -> [String: Any] {
        guard let object = value as? [String: Any] else { throw PolicyError("\(place) must be an object") }
        return object
    }

    static func string(_ value: Any?, _ key: String, at place: String) throws -> String {
        guard let string = value as? String, !string.isEmpty else { throw PolicyError("\(place) needs \"\(key)\", a non-empty string") }
        return string
    }

    static func strings(_ value: Any?, _ key: String, at place: String) throws -> [String]? {
        guard let value else { return nil }
        guard let strings = value as? [String] else { throw PolicyError("\(place): \"\(key)\" must be a list of strings") }
        return strings
    }

    static func number(_ value: Any?, _ key: String, at place: String) throws -> Double? {
        guard let value else { return nil }
        guard let number = value as? NSNumber, !isBoolean(number) else { throw PolicyError("\(place): \"\(key)\" must be a number") }
        return number.doubleValue
    }

    /// Whether JSONSerialization read `true` or `false` here: with Foundation on Linux a
    /// number 1 also casts to Bool, so the type is told by the number's encoding.
    static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    static func policy(_ value: Any, at place: String) throws -> ApprovalPolicy {
        let object = try object(value, at: place)
        try check(object, allowed: ["name", "roles", "fourEyes", "rules"], at: place)
        let name = try string(object["name"], "name", at: place)
        let at = "policy \(name)"
        guard let roleObject = object["roles"] as? [String: Any] else { throw PolicyError("\(at) needs \"roles\": role → list of user names") }
        var roles: [String: [String]] = [:]
        for (role, members) in roleObject { roles[role] = try strings(members, role, at: "\(at), roles") ?? [] }
        let fourEyes: Bool
        switch object["fourEyes"] {
        case nil: fourEyes = true
        case let flag as NSNumber where isBoolean(flag): fourEyes = flag.boolValue
        default: throw PolicyError("\(at): \"fourEyes\" must be true or false")
        }
        guard let rules = object["rules"] as? [Any] else { throw PolicyError("\(at) needs \"rules\": a list") }
        return ApprovalPolicy(
            name: name, roles: roles, fourEyes: fourEyes,
            rules: try rules.enumerated().map { index, rule in try self.rule(rule, at: "\(at), rule \(index + 1)") }
        )
    }

    static func rule(_ value: Any, at place: String) throws -> PolicyRule {
        let object = try object(value, at: place)
        try check(object, allowed: ["name", "when", "decision", "approvers", "whenExpired"], at: place)
        let name = try string(object["name"], "name", at: place)
        let at = "\(place) (\(name))"
        let condition = try object["when"].map { try match($0, at: "\(at), when") }
        let decisionName = try string(object["decision"], "decision", at: at)
        let decision: PolicyDecision
        switch decisionName {
        case "auto-execute", "suggest-only":
            guard object["approvers"] == nil, object["whenExpired"] == nil else {
                throw PolicyError("\(at): \(decisionName) takes no \"approvers\" or \"whenExpired\"")
            }
            decision = decisionName == "auto-execute" ? .autoExecute : .suggestOnly
        case "require-approval", "escalate":
            guard let levels = object["approvers"] as? [Any] else { throw PolicyError("\(at): \(decisionName) needs \"approvers\", a list of levels") }
            var whenExpired = ExpiryOutcome.expire
            if let outcome = object["whenExpired"] {
                guard let name = outcome as? String, let parsed = ExpiryOutcome(rawValue: name) else {
                    throw PolicyError("\(at): \"whenExpired\" must be \"expire\", \"reject\" or \"approve\"")
                }
                whenExpired = parsed
            }
            let chain = ApprovalChain(
                try levels.enumerated().map { index, level in try self.level(level, at: "\(at), approver level \(index + 1)") },
                whenExpired: whenExpired
            )
            decision = decisionName == "escalate" ? .escalate(chain) : .requireApproval(chain)
        default:
            throw PolicyError("\(at): unknown decision \"\(decisionName)\" (auto-execute, suggest-only, require-approval or escalate)")
        }
        return PolicyRule(name, when: condition, decide: decision)
    }

    static func match(_ value: Any, at place: String) throws -> ActionMatch {
        let object = try object(value, at: place)
        try check(object, allowed: [
            "kinds", "workflows", "amountAtLeast", "amountBelow", "riskAtLeast", "riskBelow", "confidenceAtLeast", "confidenceBelow", "attributes",
        ], at: place)
        var attributes: [String: String]?
        if let value = object["attributes"] {
            guard let strings = value as? [String: String] else { throw PolicyError("\(place): \"attributes\" must map names to strings") }
            attributes = strings
        }
        return ActionMatch(
            kinds: try strings(object["kinds"], "kinds", at: place), workflows: try strings(object["workflows"], "workflows", at: place),
            amountAtLeast: try number(object["amountAtLeast"], "amountAtLeast", at: place),
            amountBelow: try number(object["amountBelow"], "amountBelow", at: place),
            riskAtLeast: try number(object["riskAtLeast"], "riskAtLeast", at: place),
            riskBelow: try number(object["riskBelow"], "riskBelow", at: place),
            confidenceAtLeast: try number(object["confidenceAtLeast"], "confidenceAtLeast", at: place),
            confidenceBelow: try number(object["confidenceBelow"], "confidenceBelow", at: place),
            attributes: attributes
        )
    }

    static func level(_ value: Any, at place: String) throws -> ApproverLevel {
        let object = try object(value, at: place)
        try check(object, allowed: ["roles", "quorum", "deadline"], at: place)
        guard let roles = try strings(object["roles"], "roles", at: place) else { throw PolicyError("\(place) needs \"roles\"") }
        let number = try number(object["quorum"], "quorum", at: place) ?? 1
        guard let quorum = Int(exactly: number) else { throw PolicyError("\(place): \"quorum\" must be a whole number") }
        let deadlineText = try string(object["deadline"], "deadline", at: place)
        guard let deadline = parseDuration(deadlineText) else {
            throw PolicyError("\(place): deadline \"\(deadlineText)\" is not a duration such as 90s, 30m, 4h or 2d")
        }
        return ApproverLevel(roles: roles, quorum: quorum, deadline: deadline)
    }

    /// `90s`, `30m`, `4h`, `2d` (a number, maybe with a fraction or a sign, and a unit).
    /// A negative one reads as such, so that it is refused as not positive; one past a
    /// century, or not a number, is no duration.
    static func parseDuration(_ text: String) -> Duration? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        guard let unit = text.last.flatMap({ units[$0] }), let amount = Double(text.dropLast()) else { return nil }
        guard let length = Duration.seconds(ifSensible: abs(amount * unit)) else { return nil }
        return amount < 0 ? .zero - length : length
    }
}
