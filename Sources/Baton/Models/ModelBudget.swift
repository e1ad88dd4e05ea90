import Foundation

/// The most model calls may cost: per run, and per workflow per day (UTC). A call whose
/// worst case (see ``ModelRouter/worstCaseCost(_:_:)``) would take what was spent past
/// a limit is not made: it throws ``BudgetExceeded``, and the action takes its
/// `onBudgetExceeded` transition (for example, to a person), else its error transition.
public struct ModelBudget: Sendable, Hashable, Codable {
    public var perRunUSD: Decimal?
    public var perWorkflowPerDayUSD: Decimal?

    public init(perRunUSD: Decimal? = nil, perWorkflowPerDayUSD: Decimal? = nil) {
        self.perRunUSD = perRunUSD
        self.perWorkflowPerDayUSD = perWorkflowPerDayUSD
    }
}

/// A model call was not made: it could have taken spending past a budget.
public struct BudgetExceeded: Error, Sendable, Hashable, CustomStringConvertible {
    /// "run" or "workflow per day".
    public let scope: String
    public let limitUSD: Decimal
    public let spentUSD: Decimal
    public let callUpToUSD: Decimal

    public var description: String {
        "budget exceeded: the \(scope) budget is $\(limitUSD), $\(spentUSD) is spent and this call could cost up to $\(callUpToUSD)"
    }
}
