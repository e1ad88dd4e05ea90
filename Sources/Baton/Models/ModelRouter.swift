import Foundation

/// Picks a model per task and falls back along the route's candidates when one fails
/// (an error, a timeout, a refusal, an answer that does not parse), skipping at once a
/// provider whose ``CircuitBreaker`` is open: graceful degradation.
///
/// Inside a workflow, call it through ``ActionRun/model(_:task:_:)``, which journals the
/// answer as a step so a crash never pays for a call twice.
///
/// ```swift
/// let router = try ModelRouter(
///     models: [RoutableModel(openAI, price: ModelPrice(inputPerMillion: 0.15, outputPerMillion: 0.6)), RoutableModel(RuleBasedModel.examples)],
///     routes: [ModelRoute(task: "classify", candidates: ["gpt-4o-mini", "rules"])]
/// )
/// let answer = try await router.answer("classify", ChatRequest(prompt: "Where is my parcel?"))
/// ```
public struct ModelRouter: Sendable {
    public let models: [String: RoutableModel]
    public let routes: [String: ModelRoute]
    /// How many times a structured answer that does not decode is asked again of the
    /// same model, with the error, before the next candidate is tried.
    public let reasks: Int
    /// Per run and per workflow and day; see ``ModelBudget``.
    public let budget: ModelBudget

    /// Throws when a route names a model that is not given.
    public init(models: [RoutableModel], routes: [ModelRoute], reasks: Int = 2, budget: ModelBudget = ModelBudget()) throws {
        self.models = Dictionary(models.map { ($0.model.name, $0) }) { _, second in second }
        self.routes = Dictionary(routes.map { ($0.task, $0) }) { _, second in second }
        self.reasks = max(0, reasks)
        self.budget = budget
        for route in routes {
            if route.candidates.isEmpty { throw BatonError(.invalidRequest, "route \(route.task) has no candidate models") }
            for name in route.candidates where self.models[name] == nil {
                throw BatonError(.invalidRequest, "route \(route.task) names model \(name), which is not configured (configured: \(self.models.keys.sorted().joined(separator: ", ")))")
            }
        }
    }

    /// The models, rule-based ones aside, that have no price: their calls count as free
    /// in `baton costs`, the cost views and budgets, so no budget ever stops them. A
    /// worker warns of each when it starts.
    public var unpricedModels: [String] {
        models.values.filter { $0.price == .free && !($0.model is RuleBasedModel) }.map(\.model.name).sorted()
    }

    /// The candidates for `task` in order, without those that lack a required
    /// capability or would cost more than the route allows for `request`.
    public func candidates(for task: String, _ request: ChatRequest) throws -> [RoutableModel] {
        guard let route = routes[task] else {
            throw BatonError(.invalidRequest, "no route for task \(task) (routes: \(routes.keys.sorted().joined(separator: ", ")))")
        }
        let fitting = route.candidates.compactMap { models[$0] }.filter { candidate in
            route.requires.isSubset(of: candidate.model.capabilities)
                && route.maxCostUSD.map { worstCaseCost(of: candidate, request) <= $0 } ?? true
        }
        guard !fitting.isEmpty else {
            throw ModelError(.noCandidate, model: route.candidates.joined(separator: ", "), "no candidate for \(task) has \(route.requires.map(\.description).sorted()) within the cost ceiling")
        }
        return fitting
    }

    /// The most `request` could cost on any candidate of `task`: its estimated prompt
    /// and `maxTokens` of answer. What a budget check counts a call as.
    public func worstCaseCost(_ task: String, _ request: ChatRequest) throws -> Decimal {
        try candidates(for: task, request).map { worstCaseCost(of: $0, request) }.max() ?? 0
    }

    private func worstCaseCost(of candidate: RoutableModel, _ request: ChatRequest) -> Decimal {
        candidate.price.cost(of: TokenUsage(input: request.estimatedInputTokens, output: request.maxTokens))
    }

    /// The first valid answer along `task`'s route.
    public func answer(_ task: String, _ request: ChatRequest) async throws -> ModelAnswer {
        try await route(task, request) { _ in nil }
    }

    /// The first answer along `task`'s route that decodes as `T` (JSON): a model whose
    /// answer does not is asked again with the decoding error up to ``reasks`` times,
    /// then the next candidate is tried. The answer's text is the JSON.
    public func structured<T: Decodable>(_ type: T.Type, task: String, _ request: ChatRequest) async throws -> ModelAnswer {
        var request = request
        request.wantsJSON = true
        return try await route(task, request) { text in
            do {
                _ = try ModelAnswer.decodeJSON(T.self, from: text)
                return nil
            } catch {
                return decodingProblem(error)
            }
        }
    }

    /// One model (`task`'s route) drafts, another (`validator`'s route) checks the
    /// draft. Returns the draft if the validator agrees; throws a ``ModelError`` with
    /// ``ModelError/Code/disagreement`` if it does not: let it propagate, and the
    /// state's error transition (or decision routing after it) takes over.
    public func draftAndValidate(task: String, validator: String, _ request: ChatRequest) async throws -> ModelAnswer {
        let draft = try await answer(task, request)
        let question = ChatRequest(
            system: "You check another model's answer. Reply with JSON only: {\"agrees\": true or false, \"reason\": \"…\"}.",
            prompt: "The request:\n\(request.messages.map(\.content).joined(separator: "\n"))\n\nThe answer:\n\(draft.text)\n\nIs the answer correct and complete?",
            maxTokens: 256
        )
        let check = try await structured(Verdict.self, task: validator, question)
        let verdict = try ModelAnswer.decodeJSON(Verdict.self, from: check.text)
        guard verdict.agrees else {
            throw ModelError(.disagreement, model: "\(draft.model) vs \(check.model)", "\(check.model) does not agree with \(draft.model)'s draft: \(verdict.reason ?? "no reason given")")
        }
        return ModelAnswer(
            task: task, model: draft.model, text: draft.text, toolCalls: draft.toolCalls, usage: draft.usage,
            costUSD: draft.costUSD + check.costUSD, latencyMilliseconds: draft.latencyMilliseconds + check.latencyMilliseconds,
            attempts: check.attempts + draft.attempts
        )
    }

    struct Verdict: Decodable {
        let agrees: Bool
        let reason: String?
    }

    /// Tries the candidates in order; `problem` says what is wrong with an answer's
    /// text (nil: it is good), and a problem is put to the same model again.
    private func route(_ task: String, _ request: ChatRequest, problem: (String) -> String?) async throws -> ModelAnswer {
        let candidates = try candidates(for: task, request)
        let latencyBudget = routes[task]?.latencyBudget
        var request = request
        request.task = task
        var attempts: [ModelAttempt] = []
        var cost = Decimal(0)
        let started = ContinuousClock.now
        var lastError: ModelError?
        for candidate in candidates {
            let name = candidate.model.name
            let breaker = candidate.breaker.position
            guard candidate.breaker.allowsCall() else {
                attempts.append(ModelAttempt(model: name, outcome: ModelError.Code.circuitOpen.description, error: "skipped: circuit open", breaker: breaker, latencyMilliseconds: 0, usage: nil))
                lastError = ModelError(.circuitOpen, model: name, "skipped: its circuit breaker is open")
                continue
            }
            var asked = request
            for ask in 0...reasks {
                let callStarted = ContinuousClock.now
                do {
                    let response = try await Self.call(candidate.model, asked, within: latencyBudget)
                    let latency = (ContinuousClock.now - callStarted).milliseconds
                    cost += candidate.price.cost(of: response.usage)
                    if let problem = problem(response.text) {
                        attempts.append(ModelAttempt(model: name, outcome: ModelError.Code.invalidStructuredOutput.description, error: problem, breaker: breaker, latencyMilliseconds: latency, usage: response.usage))
                        lastError = ModelError(.invalidStructuredOutput, model: name, problem)
                        if ask < reasks {
                            asked.messages += [.assistant(response.text), .user("That answer could not be read as the JSON asked for (\(problem)). Answer again with only the JSON.")]
                            continue
                        }
                        // A model that answers is up, however badly: the breaker stays closed.
                        candidate.breaker.recordSuccess()
                        break
                    }
                    candidate.breaker.recordSuccess()
                    attempts.append(ModelAttempt(model: name, outcome: "ok", error: nil, breaker: breaker, latencyMilliseconds: latency, usage: response.usage))
                    return ModelAnswer(
                        task: task, model: name, text: response.text, toolCalls: response.toolCalls, usage: response.usage, costUSD: cost,
                        latencyMilliseconds: (ContinuousClock.now - started).milliseconds, attempts: attempts
                    )
                } catch let error where !(error is CancellationError) {
                    let error = error as? ModelError ?? ModelError(.other, model: name, "\(error)")
                    candidate.breaker.recordFailure()
                    attempts.append(ModelAttempt(model: name, outcome: error.code.description, error: error.message, breaker: breaker, latencyMilliseconds: (ContinuousClock.now - callStarted).milliseconds, usage: nil))
                    lastError = error
                    break
                }
            }
        }
        throw ModelCallFailed(task: task, attempts: attempts, last: lastError)
    }

    /// `model`'s answer, or a timeout once `budget` has passed.
    private static func call(_ model: any ChatModel, _ request: ChatRequest, within budget: Duration?) async throws -> ChatResponse {
        guard let budget else { return try await model.complete(request) }
        return try await withThrowingTaskGroup(of: ChatResponse?.self) { group in
            group.addTask { try await model.complete(request) }
            group.addTask {
                try await Task.sleep(for: budget)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else {
                throw ModelError(.timeout, model: model.name, "no answer within the route's latency budget of \(budget)")
            }
            return response
        }
    }
}

/// Every candidate of a route failed; the journal keeps each attempt.
public struct ModelCallFailed: Error, Sendable, CustomStringConvertible {
    public let task: String
    public let attempts: [ModelAttempt]
    public let last: ModelError?

    public var description: String {
        "no model answered \(task): " + attempts.map { "\($0.model) \($0.outcome)\($0.error.map { " (\($0))" } ?? "")" }.joined(separator: "; ")
    }
}

extension ModelAnswer {
    /// Decodes `T` from a model's JSON answer, allowing the Markdown code fence models
    /// like to put around it.
    public static func decodeJSON<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        var body = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if body.hasPrefix("```") {
            body = String(body.drop { $0 != "\n" }.dropFirst())
            if body.hasSuffix("```") { body = String(body.dropLast(3)) }
        }
        return try JSONDecoder().decode(T.self, from: Data(body.utf8))
    }

    /// The answer's JSON decoded as `T`; see ``ModelRouter/structured(_:task:_:)``.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T { try Self.decodeJSON(T.self, from: text) }
}
