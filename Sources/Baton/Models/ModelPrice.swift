import Foundation

/// What a model's tokens cost, in US dollars per million tokens.
public struct ModelPrice: Sendable, Hashable, Codable {
    public let inputPerMillion: Decimal
    public let outputPerMillion: Decimal

    public init(inputPerMillion: Decimal, outputPerMillion: Decimal) {
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
    }

    /// Free: the rule-based model, a model of your own.
    public static let free = ModelPrice(inputPerMillion: 0, outputPerMillion: 0)

    /// The cost of `usage`, rounded to the microdollar the journal keeps.
    public func cost(of usage: TokenUsage) -> Decimal {
        let exact = (Decimal(usage.input) * inputPerMillion + Decimal(usage.output) * outputPerMillion) / 1_000_000
        var rounded = Decimal()
        var value = exact
        NSDecimalRound(&rounded, &value, 6, .plain)
        return rounded
    }
}
