import Baton
import BatonExamples
import BatonTesting
import Foundation
import Testing

/// The policy the approval tests decide payments with.
let paymentPolicy = ApprovalPolicy(
    name: "payments",
    roles: ["finance": ["alice", "bob", "erin"], "cfo": ["carol"], "board": ["dave"]],
    rules: [
        PolicyRule("petty", when: ActionMatch(kinds: ["payment"], amountBelow: 100), decide: .autoExecute),
        PolicyRule("huge", when: ActionMatch(kinds: ["payment"], amountAtLeast: 1_000_000), decide: .escalate(ApprovalChain([
            ApproverLevel(roles: ["board"], deadline: .seconds(3600)),
        ]))),
        PolicyRule("large", when: ActionMatch(kinds: ["payment"], amountAtLeast: 10_000), decide: .requireApproval(ApprovalChain([
            ApproverLevel(roles: ["finance"], quorum: 2, deadline: .seconds(3600)),
            ApproverLevel(roles: ["cfo"], deadline: .seconds(3600)),
            ApproverLevel(roles: ["board"], deadline: .seconds(3600)),
        ], whenExpired: .expire))),
        PolicyRule("risky", when: ActionMatch(riskAtLeast: 0.8), decide: .requireApproval(ApprovalChain([
            ApproverLevel(roles: ["cfo"], deadline: .seconds(600)),
        ], whenExpired: .reject))),
        PolicyRule("payments", when: ActionMatch(kinds: ["payment"]), decide: .requireApproval(ApprovalChain([
            ApproverLevel(roles: ["finance"], deadline: .seconds(3600)),
        ], whenExpired: .reject))),
        PolicyRule("anything else", decide: .suggestOnly),
    ]
)

@Suite("Approval policies")
struct ApprovalPolicyTests {
    @Test func aPayloadIsAnEncodedValueOrJSONTextAndIsWrittenAsJSON() throws {
        // `payload:` encodes any value, a String too; `payloadJSON:` takes JSON text as it is.
        #expect(try ProposedAction(kind: "note", payload: "call the carrier").payload == #""call the carrier""#)
        #expect(ProposedAction(kind: "note", payloadJSON: #"{"to": "carrier"}"#).payload == #"{"to": "carrier"}"#)
        // Encoded, the payload is the JSON it spells; read back, the same JSON with sorted keys.
        let action = ProposedAction(kind: "reroute", amount: 10, attributes: ["region": "eu"], payloadJSON: #"{"plan": "via Hamburg", "cost": 1900}"#)
        let encoded = try JSONEncoder().encode(action)
        let object = try JSONSerialization.jsonObject(with: encoded) as? [String: Any]
        #expect((object?["payload"] as? [String: Any])?["plan"] as? String == "via Hamburg")
        let decoded = try JSONDecoder().decode(ProposedAction.self, from: encoded)
        #expect(decoded == ProposedAction(kind: "reroute", amount: 10, attributes: ["region": "eu"], payloadJSON: #"{"cost":1900,"plan":"via Hamburg"}"#))
        // Without a payload the key is left out, and reads back as none.
        let bare = try JSONEncoder().encode(ProposedAction(kind: "note"))
        #expect((try JSONSerialization.jsonObject(with: bare) as? [String: Any])?.keys.contains("payload") == false)
        #expect(try JSONDecoder().decode(ProposedAction.self, from: bare).payload == nil)
    }

    @Test(arguments: [
        (ProposedAction(kind: "payment", amount: 50), "petty"),
        (ProposedAction(kind: "payment", amount: 100), "payments"),
        (ProposedAction(kind: "payment", amount: 9_999.99), "payments"),
        (ProposedAction(kind: "payment", amount: 10_000), "large"),
        (ProposedAction(kind: "payment", amount: 2_000_000), "huge"),
        (ProposedAction(kind: "payment", amount: 500, riskScore: 0.9), "risky"),
        (ProposedAction(kind: "refund", riskScore: 0.8), "risky"),
        (ProposedAction(kind: "refund", riskScore: 0.79), "anything else"),
        // No amount meets no amount bound: "petty" needs one.
        (ProposedAction(kind: "payment"), "payments"),
        (ProposedAction(kind: "gift", amount: 10), "anything else"),
    ])
    func theFirstMatchingRuleDecides(action: ProposedAction, rule: String) throws {
        try paymentPolicy.validate()
        #expect(paymentPolicy.decide(action, workflow: "payment")?.name == rule)
    }

    @Test func conditionsOnWorkflowsAndAttributesMatchExactly() {
        let match = ActionMatch(workflows: ["payment"], attributes: ["region": "eu"])
        #expect(match.matches(ProposedAction(kind: "x", attributes: ["region": "eu", "tier": "1"]), workflow: "payment"))
        #expect(!match.matches(ProposedAction(kind: "x", attributes: ["region": "us"]), workflow: "payment"))
        #expect(!match.matches(ProposedAction(kind: "x", attributes: ["region": "eu"]), workflow: "order-delay"))
    }

    /// A policy file around `rules`, with roles finance (alice, bob) and cfo (carol).
    static func file(rules: String, extra: String = "") -> String {
        """
        {"policies": [{"name": "payments", "roles": {"finance": ["alice", "bob"], "cfo": ["carol"]}\(extra), "rules": [\(rules)]}]}
        """
    }

    static let fallback = #"{"name": "default", "decision": "suggest-only"}"#

    @Test(arguments: [
        (file(rules: #"{"name": "x", "decision": "require-approval", "approvers": [{"roles": ["legal"], "deadline": "1h"}]}, "# + fallback),
         "policy payments: rule 1 (x), approver level 1 names role legal, which the policy does not declare (it declares cfo, finance)"),
        (file(rules: #"{"name": "x", "decision": "require-approval", "approvers": [{"roles": ["cfo"], "deadline": "0s"}]}, "# + fallback),
         "policy payments: rule 1 (x), approver level 1 has a deadline that is not positive"),
        (file(rules: #"{"name": "x", "decision": "require-approval", "approvers": [{"roles": ["cfo"], "deadline": "-2h"}]}, "# + fallback),
         "policy payments: rule 1 (x), approver level 1 has a deadline that is not positive"),
        (file(rules: #"{"name": "x", "decision": "require-approval", "approvers": [{"roles": ["cfo"], "deadline": "soon"}]}, "# + fallback),
         #"policy payments, rule 1 (x), approver level 1: deadline "soon" is not a duration such as 90s, 30m, 4h or 2d"#),
        (file(rules: fallback + #", {"name": "late", "when": {"kinds": ["payment"]}, "decision": "auto-execute"}"#),
         "policy payments: rule 2 (late) can never match: rule 1 (default) before it matches every action"),
        (file(rules: #"{"name": "odd", "when": {"amountAtLeast": 100, "amountBelow": 50}, "decision": "auto-execute"}, "# + fallback),
         "policy payments: rule 1 (odd) can never match: no amount is at least 100.0 and below 50.0"),
        (file(rules: #"{"name": "only", "when": {"kinds": ["payment"]}, "decision": "auto-execute"}"#),
         "policy payments: it has no default rule: its last rule (only) must match every action (give it no condition)"),
        (file(rules: ""), "policy payments: it has no rules"),
        (file(rules: #"{"name": "x", "decision": "require-approval", "approvers": [{"roles": ["cfo"], "quorum": 2, "deadline": "1h"}]}, "# + fallback),
         "policy payments: rule 1 (x), approver level 1 asks a quorum of 2, but 1 people hold its roles"),
        (file(rules: #"{"name": "typo", "when": {"amountbelow": 100}, "decision": "auto-execute"}, "# + fallback),
         #"policy payments, rule 1 (typo), when has an unknown key "amountbelow" (known: amountAtLeast, amountBelow, attributes, confidenceAtLeast, confidenceBelow, kinds, riskAtLeast, riskBelow, workflows)"#),
        (file(rules: #"{"name": "x", "decision": "maybe"}"#),
         #"policy payments, rule 1 (x): unknown decision "maybe" (auto-execute, suggest-only, require-approval or escalate)"#),
        (file(rules: fallback, extra: #", "fourEyes": "yes""#), #"policy payments: "fourEyes" must be true or false"#),
        (file(rules: fallback, extra: #", "fourEyes": 1"#), #"policy payments: "fourEyes" must be true or false"#),
        (file(rules: #"{"name": "x", "decision": "require-approval", "approvers": [{"roles": ["cfo"], "quorum": true, "deadline": "1h"}]}, "# + fallback),
         #"policy payments, rule 1 (x), approver level 1: "quorum" must be a number"#),
        (#"{"policies": [{"name": "p", "roles": {"finance": []}, "rules": [{"name": "d", "decision": "suggest-only"}]}]}"#,
         "policy p: role finance has no members, so no one could approve as it"),
        ("{not json", "not valid JSON"),
        // Numbers too large for their type are refused, not trapped on (found by the fuzzer).
        (file(rules: #"{"name": "x", "decision": "require-approval", "approvers": [{"roles": ["cfo"], "quorum": 9223372036854775808, "deadline": "1h"}]}, "# + fallback),
         #"policy payments, rule 1 (x), approver level 1: "quorum" must be a whole number"#),
        (file(rules: #"{"name": "x", "decision": "require-approval", "approvers": [{"roles": ["cfo"], "deadline": "1e300s"}]}, "# + fallback),
         #"policy payments, rule 1 (x), approver level 1: deadline "1e300s" is not a duration such as 90s, 30m, 4h or 2d"#),
        // A key with a newline in it is quoted escaped: the message stays one line (found by the fuzzer).
        (file(rules: #"{"name": "x", "decision": "auto-execute", "a\nb": 1}"#), #"policy payments, rule 1 has an unknown key "a\nb" (known: approvers, decision, name, when, whenExpired)"#),
    ])
    func aBadPolicyFileIsRefusedNamingThePolicyAndRule(json: String, message: String) {
        #expect {
            try PolicyBook.parse(Data(json.utf8))
        } throws: { error in
            guard let error = error as? PolicyError else { return false }
            return message == "not valid JSON" ? error.message.hasPrefix(message) : error.message == message
        }
    }

    @Test(arguments: [
        (#"{"policies": [{"name": "p", "roles": {"finance": []}, "rules": [{"name": "d", "decision": "suggest-only"}]}]}"#,
         "policy p: role finance has no members, so no one could approve as it"),
        (file(rules: #"{"name": "typo", "when": {"amountbelow": 100}, "decision": "auto-execute"}, "# + fallback),
         #"policy payments, rule 1 (typo), when has an unknown key "amountbelow" (known: amountAtLeast, amountBelow, attributes, confidenceAtLeast, confidenceBelow, kinds, riskAtLeast, riskBelow, workflows)"#),
        ("policies: [unclosed", "not valid YAML"),
        ("- just a list", #"expected an object with "policies""#),
        // Yams's own loader traps on this; it is read node by node instead.
        ("policies: [{[a]: 1}]", "a mapping key must be text"),
    ])
    func aBadYAMLPolicyFileIsRefusedLikeItsJSON(yaml: String, message: String) {
        #expect {
            try PolicyBook.parseYAML(Data(yaml.utf8))
        } throws: { error in
            guard let error = error as? PolicyError else { return false }
            return error.message.hasPrefix(message)
        }
    }

    @Test func aYAMLPolicyFileReadsAsTheJSONItStandsFor() async throws {
        try await ScratchFolder.with("baton-policies") { folder in
            let file = folder.appending(path: "policies.yaml")
            try """
                # The demo's policy, as an operations team would write it.
                policies:
                  - name: logistics
                    fourEyes: true
                    roles:
                      logistics: [alice, bob]
                      ops-lead: [carol]
                    rules:
                      - name: small reroutes
                        when: {kinds: [reroute], amountBelow: 1000}
                        decision: auto-execute
                      - name: reroutes
                        when: {kinds: [reroute]}
                        decision: require-approval
                        approvers:
                          - {roles: [logistics], quorum: 1, deadline: 4s}
                          - {roles: [ops-lead], deadline: 10m}
                        whenExpired: reject
                      - name: anything else
                        decision: suggest-only
                """.write(to: file, atomically: true, encoding: .utf8)
            let json = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../ops/demo-policies.json")
            #expect(try PolicyBook.load(from: file).policy(named: "logistics") == (try PolicyBook.load(from: json).policy(named: "logistics")))
        }
    }

    @Test func aPolicyFileReplacesTheBuiltInPolicyOfItsName() throws {
        let file = Self.file(rules: #"""
            {"name": "big", "when": {"kinds": ["payment"], "amountAtLeast": 500}, "decision": "escalate",
             "approvers": [{"roles": ["cfo"], "deadline": "90m"}, {"roles": ["finance"], "quorum": 2, "deadline": "1.5d"}], "whenExpired": "approve"},
            {"name": "default", "decision": "auto-execute"}
            """#)
        let loaded = try PolicyBook.parse(Data(file.utf8))
        let book = try PolicyBook([paymentPolicy, try #require(Examples.policies().policy(named: "logistics"))]).overridden(by: loaded)
        let payments = try #require(book.policy(named: "payments"))
        #expect(book.policy(named: "logistics") != nil)
        #expect(payments.rules.map(\.name) == ["big", "default"])
        #expect(payments.decide(ProposedAction(kind: "payment", amount: 600), workflow: "w")?.decision == .escalate(ApprovalChain([
            ApproverLevel(roles: ["cfo"], deadline: .seconds(5400)), ApproverLevel(roles: ["finance"], quorum: 2, deadline: .seconds(129_600)),
        ], whenExpired: .approve)))
        #expect(payments.fourEyes)
    }

    @Test func theDemoPolicyFileIsTheBuiltInPolicyWithShortDeadlines() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../ops/demo-policies.json")
        var demo = try #require(try PolicyBook.load(from: file).policy(named: "logistics"))
        let builtIn = try #require(try Examples.policies().policy(named: "logistics"))
        guard case .requireApproval(var chain) = demo.rules[1].decision else { Issue.record("rule 2 asks no one"); return }
        #expect(chain.levels[0].deadline == .seconds(4))
        chain.levels[0].deadline = .seconds(4 * 3600)
        chain.levels[1].deadline = .seconds(3600)
        demo.rules[1].decision = .requireApproval(chain)
        #expect(demo == builtIn)
    }

    @Test func aWorkerRefusesToStartWithoutThePoliciesItsWorkflowsName() throws {
        var registry = WorkflowRegistry()
        try registry.register(OrderDelay.self)
        #expect(throws: PolicyError.self) { try PolicyBook([paymentPolicy]).check(covers: registry) }
        try Examples.policies().check(covers: registry)
    }
}
