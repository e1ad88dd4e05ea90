import Foundation

extension ActionRun {
    /// Asks the model the worker's ``ModelRouter`` picks for `task`, falling back along
    /// the route. The answer is a step named `name`: journaled as soon as it comes, with
    /// the model, tokens and cost in the journal's columns and every attempt in its
    /// output, and answered from the journal after a crash, so a call is never paid for
    /// twice. A call that could pass the router's ``ModelBudget`` is not made: the
    /// action takes its `onBudgetExceeded` transition.
    ///
    /// ```swift
    /// let answer = try await run.model("draft-apology", task: "draft", ChatRequest(prompt: "Apologise for order \(id)'s delay"))
    /// run.context.draft = answer.text
    /// ```
    /// `retry` repeats the whole route after every candidate failed (by default it does not).
    nonisolated(nonsending) public func model(_ name: String, task: String, _ request: ChatRequest, retry: RetryPolicy = .never) async throws -> ModelAnswer {
        try await routed(name, task: task, request, retry: retry) { router, key in try await router.answer(task, request.keyed(key)) }
    }

    /// Like ``model(_:task:_:retry:)``, for an answer in JSON that decodes as `T`: a model
    /// whose answer does not decode is asked again with the error, then the next one is
    /// tried (see ``ModelRouter/structured(_:task:_:)``).
    nonisolated(nonsending) public func model<T: Decodable>(
        _ name: String, task: String, _ request: ChatRequest, as type: T.Type, retry: RetryPolicy = .never
    ) async throws -> T {
        let answer = try await routed(name, task: task, request, retry: retry) { router, key in try await router.structured(T.self, task: task, request.keyed(key)) }
        return try answer.decode(T.self)
    }

    /// One model drafts (`task`), another checks the draft (`validator`); a disagreement
    /// throws, and the state's error transition takes over. One step, journaled as one.
    nonisolated(nonsending) public func draftAndValidate(
        _ name: String, task: String, validator: String, _ request: ChatRequest, retry: RetryPolicy = .never
    ) async throws -> ModelAnswer {
        try await routed(name, task: task, request, retry: retry) { router, key in
            try await router.draftAndValidate(task: task, validator: validator, request.keyed(key))
        }
    }

    nonisolated(nonsending) private func routed(
        _ name: String, task: String, _ request: ChatRequest, retry: RetryPolicy, _ call: (ModelRouter, String) async throws -> ModelAnswer
    ) async throws -> ModelAnswer {
        guard let router = models else {
            throw BatonError(.invalidRequest, "step \(name) calls a model, but this worker was given no model router (Worker(…, models:))")
        }
        let (store, runID) = (steps.store, runID)
        return try await steps.step(name, retry: retry, journal: .atOnce, columns: ModelColumns.init(answer:)) { attempt in
            try await store.checkBudget(router.budget, run: runID, workflow: W.name, callUpTo: try router.worstCaseCost(task, request))
            return try await call(router, attempt.idempotencyKey)
        }
    }
}

/// The journal's model columns for a model call's step.
struct ModelColumns: Sendable {
    let model: String
    let tokensIn: Int
    let tokensOut: Int
    let costUSD: Decimal

    init(answer: ModelAnswer) {
        model = answer.model
        tokensIn = answer.attempts.reduce(0) { $0 + ($1.usage?.input ?? 0) }
        tokensOut = answer.attempts.reduce(0) { $0 + ($1.usage?.output ?? 0) }
        costUSD = answer.costUSD
    }
}

extension ChatRequest {
    /// This request carrying a step's idempotency key.
    func keyed(_ key: String) -> ChatRequest {
        var keyed = self
        keyed.idempotencyKey = key
        return keyed
    }
}
