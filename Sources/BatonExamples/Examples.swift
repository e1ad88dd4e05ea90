import Baton

/// The workflows the `baton` binary ships with.
public enum Examples {
    /// A registry holding every example workflow.
    public static func registry() throws -> WorkflowRegistry {
        var registry = WorkflowRegistry()
        try registry.register(CustomerNotice.self)
        try registry.register(OrderDelay.self)
        try registry.register(TenSteps.self)
        return registry
    }

    /// The approval policies the example workflows name: `logistics` lets reroutes under
    /// 1,000 go ahead, asks `logistics` (alice or bob, 4 hours) for dearer ones,
    /// escalating to `ops-lead` (carol, 1 hour), and rejects them when that passes too.
    /// A policy file given to `baton worker --policies` replaces it.
    public static func policies() throws -> PolicyBook {
        try PolicyBook([
            ApprovalPolicy(
                name: "logistics",
                roles: ["logistics": ["alice", "bob"], "ops-lead": ["carol"]],
                rules: [
                    PolicyRule("small reroutes", when: ActionMatch(kinds: ["reroute"], amountBelow: 1_000), decide: .autoExecute),
                    PolicyRule("reroutes", when: ActionMatch(kinds: ["reroute"]), decide: .requireApproval(ApprovalChain([
                        ApproverLevel(roles: ["logistics"], deadline: .seconds(4 * 3600)),
                        ApproverLevel(roles: ["ops-lead"], deadline: .seconds(3600)),
                    ], whenExpired: .reject))),
                    PolicyRule("anything else", decide: .suggestOnly),
                ]
            )
        ])
    }
}
