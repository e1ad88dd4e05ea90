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

extension Examples {
    /// The models the example workflows call when no real model is configured: a
    /// ``RuleBasedModel`` named `rules` that classifies delay notes by keyword (`task`
    /// `classify`) and drafts customer notices from a template (`draft`). `baton worker`
    /// puts a real model in front of it when one is configured (see the README).
    public static func rules() throws -> RuleBasedModel {
        try RuleBasedModel(
            name: "rules",
            rules: [
                .init(label: "weather", pattern: #"\b(storm|typhoon|hurricane|fog|snow|weather)\b"#),
                .init(label: "strike", pattern: #"\b(strike|walkout|industrial action)\b"#),
                .init(label: "congestion", pattern: #"\b(congest\w*|backlog|queue|berth)\b"#),
                .init(label: "customs", pattern: #"\b(customs|inspection|paperwork|clearance)\b"#),
            ],
            fallbackLabel: "other",
            templates: ["draft": "{{text}} We are sorry for the wait."]
        )
    }

    /// Routes for the examples' tasks over `models`, in order of preference (`rules`
    /// last, so a dead provider degrades to it), with no budget unless given.
    public static func models(_ models: [RoutableModel] = [], budget: ModelBudget = ModelBudget()) throws -> ModelRouter {
        let all = models + [RoutableModel(try rules())]
        let names = all.map(\.model.name)
        return try ModelRouter(
            models: all,
            routes: [
                ModelRoute(task: "classify", candidates: names, requires: [.json], latencyBudget: .seconds(30)),
                ModelRoute(task: "draft", candidates: names, requires: [.text], latencyBudget: .seconds(60)),
            ],
            budget: budget
        )
    }
}
