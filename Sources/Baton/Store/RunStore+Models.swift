import Foundation
import LibPQ

extension RunStore {
    /// Throws ``BudgetExceeded`` if a model call that may cost `callUpTo` would take
    /// `run`'s spending, or `workflow`'s spending today (UTC), past `budget`.
    func checkBudget(_ budget: ModelBudget, run: UUID, workflow: String, callUpTo cost: Decimal) async throws {
        guard budget.perRunUSD != nil || budget.perWorkflowPerDayUSD != nil else { return }
        let spent = try await withConnection { connection in
            try await connection.query("""
                SELECT (SELECT coalesce(sum(cost_usd), 0) FROM baton.journal WHERE run_id = \(run) AND cost_usd IS NOT NULL)::text,
                       (SELECT coalesce(sum(j.cost_usd), 0) FROM baton.journal j JOIN baton.runs r ON r.id = j.run_id
                        WHERE j.model IS NOT NULL AND r.workflow = \(workflow)
                          AND j.recorded_at >= date_trunc('day', baton.current_time() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')::text
                """)[0]
        }
        let runSpent = Decimal(string: try spent.decode(String.self, at: 0)) ?? 0
        let workflowSpent = Decimal(string: try spent.decode(String.self, at: 1)) ?? 0
        if let limit = budget.perRunUSD, runSpent + cost > limit {
            throw BudgetExceeded(scope: "run", limitUSD: limit, spentUSD: runSpent, callUpToUSD: cost)
        }
        if let limit = budget.perWorkflowPerDayUSD, workflowSpent + cost > limit {
            throw BudgetExceeded(scope: "\(workflow) per day", limitUSD: limit, spentUSD: workflowSpent, callUpToUSD: cost)
        }
    }
}

/// One line of ``RunStore/costs(by:)``: calls, tokens and cost of one workflow, model or day.
public struct CostLine: Sendable, Codable, Hashable {
    /// The workflow, the model, or the day (`2026-12-01`, UTC).
    public let key: String
    public let calls: Int
    public let tokensIn: Int
    public let tokensOut: Int
    public let costUSD: Decimal

    public init(key: String, calls: Int, tokensIn: Int, tokensOut: Int, costUSD: Decimal) {
        self.key = key
        self.calls = calls
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
        self.costUSD = costUSD
    }
}

/// What ``RunStore/costs(by:)`` totals by.
public enum CostGrouping: String, Sendable, CaseIterable {
    case workflow, model, day
}

extension RunStore {
    /// Model calls' cost and tokens per workflow, model or day, dearest first (from
    /// `baton.model_costs`).
    public func costs(by grouping: CostGrouping) async throws -> [CostLine] {
        try await withConnection { connection in
            // The grouping column is one of three constants, not input.
            let column = switch grouping {
            case .workflow: "workflow"
            case .model: "model"
            case .day: "day::text"
            }
            return try await connection.query(PostgresQuery(unsafeSQL: """
                SELECT \(column), sum(calls)::bigint, sum(tokens_in)::bigint, sum(tokens_out)::bigint, sum(cost_usd)::text
                FROM baton.model_costs GROUP BY 1 ORDER BY sum(cost_usd) DESC, 1
                """)).map { row in
                CostLine(
                    key: try row.decode(String.self, at: 0), calls: try row.decode(Int.self, at: 1), tokensIn: try row.decode(Int.self, at: 2),
                    tokensOut: try row.decode(Int.self, at: 3), costUSD: Decimal(string: try row.decode(String.self, at: 4)) ?? 0
                )
            }
        }
    }
}
