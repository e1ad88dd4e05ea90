import Foundation

/// A routed model call's result, as journaled in the step's output: the answer, which
/// model gave it and why (the candidates tried before it and how each fared), tokens,
/// cost and latency. A run that comes back after a crash reads it from the journal; the
/// model is not called again.
public struct ModelAnswer: Sendable, Hashable, Codable {
    /// The task the call was routed for.
    public let task: String
    /// The model that answered.
    public let model: String
    public let text: String
    public let toolCalls: [ToolCall]
    public let usage: TokenUsage
    /// In US dollars, from the route's price table; includes failed attempts' tokens.
    public let costUSD: Decimal
    public let latencyMilliseconds: Double
    /// Every attempt in order, the answering one last.
    public let attempts: [ModelAttempt]

    /// Candidates tried before the one that answered.
    public var fallbacks: Int { Set(attempts.map(\.model)).count - 1 }
}

/// One try of one candidate.
public struct ModelAttempt: Sendable, Hashable, Codable {
    public let model: String
    /// `ok`, or the ``ModelError/Code`` of the failure.
    public let outcome: String
    public let error: String?
    /// The candidate's breaker before the try.
    public let breaker: CircuitBreaker.Position
    public let latencyMilliseconds: Double
    public let usage: TokenUsage?

    public init(model: String, outcome: String, error: String?, breaker: CircuitBreaker.Position, latencyMilliseconds: Double, usage: TokenUsage?) {
        self.model = model
        self.outcome = outcome
        self.error = error
        self.breaker = breaker
        self.latencyMilliseconds = latencyMilliseconds
        self.usage = usage
    }
}
