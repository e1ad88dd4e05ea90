import Foundation

/// How one task is routed: the candidate models in order of preference, what a model
/// must be able to do, the most a call may cost, and how long one may take.
///
/// ```swift
/// ModelRoute(task: "classify", candidates: ["gpt-4o-mini", "claude-haiku", "rules"], requires: [.json],
///            maxCostUSD: 0.01, latencyBudget: .seconds(10))
/// ```
public struct ModelRoute: Sendable, Hashable {
    public var task: String
    public var candidates: [String]
    public var requires: Set<ModelCapability>
    /// Candidates whose worst-case cost for the request (its prompt and `maxTokens`)
    /// is above this are skipped.
    public var maxCostUSD: Decimal?
    /// A call that takes longer is cut off and counts as a timeout: the next candidate is tried.
    public var latencyBudget: Duration?

    public init(task: String, candidates: [String], requires: Set<ModelCapability> = [], maxCostUSD: Decimal? = nil, latencyBudget: Duration? = nil) {
        self.task = task
        self.candidates = candidates
        self.requires = requires
        self.maxCostUSD = maxCostUSD
        self.latencyBudget = latencyBudget
    }
}

/// A model the router may use, with its price and the breaker that guards it.
public struct RoutableModel: Sendable {
    public let model: any ChatModel
    public let price: ModelPrice
    public let breaker: CircuitBreaker

    public init(_ model: any ChatModel, price: ModelPrice = .free, breaker: CircuitBreaker = CircuitBreaker()) {
        self.model = model
        self.price = price
        self.breaker = breaker
    }
}
