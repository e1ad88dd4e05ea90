import Baton
import BatonExamples
import BatonProviders
import BatonTesting
import Foundation
import LibPQ
import Logging
import Synchronization
import Testing

/// A clock the tests move by hand, for circuit breakers' cool-downs.
final class HandClock: Sendable {
    private let offset = Mutex(Duration.zero)
    private let start = ContinuousClock.now
    var now: ContinuousClock.Instant { start + offset.withLock { $0 } }
    func advance(by duration: Duration) { offset.withLock { $0 += duration } }
}

func openAI(_ server: FakeModelServer, name: String = "gpt", retries: Int = 0, timeout: Duration = .seconds(10)) throws -> OpenAICompatibleModel {
    try OpenAICompatibleModel(model: "gpt-4o-mini", name: name, baseURL: server.baseURL + "/v1", timeout: timeout, retries: retries)
}

@Suite("Model providers over HTTP", .tags(.process))
struct ProviderTests {
    @Test func anOpenAICompatibleServerGetsTheDocumentedRequestAndItsAnswerIsRead() async throws {
        let server = try await FakeModelServer.start { _, _ in .init(body: ProviderWire.openAI("Rotterdam is closed.", promptTokens: 31, completionTokens: 6)) }
        defer { Task { await server.close() } }
        setenv("BATON_TEST_OPENAI_KEY", "sk-test-secret", 1)
        let model = try OpenAICompatibleModel(model: "gpt-4o-mini", name: "gpt", baseURL: server.baseURL + "/v1", apiKeyEnvironment: "BATON_TEST_OPENAI_KEY")
        var request = ChatRequest(system: "Be brief.", prompt: "Why the delay?", maxTokens: 50, wantsJSON: true)
        request.idempotencyKey = "run:1:classify"
        let response = try await model.complete(request)
        #expect(response.text == "Rotterdam is closed.")
        #expect(response.usage == TokenUsage(input: 31, output: 6))
        let sent = try #require(server.requests.first)
        #expect(sent.method == "POST" && sent.path == "/v1/chat/completions")
        #expect(sent.headers["authorization"] == "Bearer sk-test-secret")
        #expect(sent.headers["idempotency-key"] == "run:1:classify")
        #expect(sent.json["model"] as? String == "gpt-4o-mini")
        #expect(sent.json["max_tokens"] as? Int == 50)
        #expect((sent.json["response_format"] as? [String: String]) == ["type": "json_object"])
        #expect((sent.json["messages"] as? [[String: String]]) == [["role": "system", "content": "Be brief."], ["role": "user", "content": "Why the delay?"]])
    }

    @Test func toolCallsComeBackWithTheirArguments() async throws {
        let server = try await FakeModelServer.start { _, _ in .init(body: ProviderWire.openAIToolCall(name: "book", arguments: #"{"carrier": "DHL"}"#)) }
        defer { Task { await server.close() } }
        let request = ChatRequest(messages: [.user("Book it")], tools: [ToolSpec(name: "book", description: "Book a carrier")])
        let response = try await openAI(server).complete(request)
        #expect(response.toolCalls == [ToolCall(id: "call_1", name: "book", arguments: #"{"carrier": "DHL"}"#)])
        #expect(((server.requests[0].json["tools"] as? [[String: Any]])?.first?["type"] as? String) == "function")
    }

    @Test func anthropicGetsItsHeadersAndSystemFieldAndItsAnswerIsRead() async throws {
        let server = try await FakeModelServer.start { _, _ in .init(body: ProviderWire.anthropic("Strike at the port.", input: 40, output: 9)) }
        defer { Task { await server.close() } }
        setenv("BATON_TEST_ANTHROPIC_KEY", "sk-ant-secret", 1)
        let model = try AnthropicModel(model: "claude-3-5-haiku-latest", name: "claude", baseURL: server.baseURL, apiKeyEnvironment: "BATON_TEST_ANTHROPIC_KEY")
        let response = try await model.complete(ChatRequest(system: "Classify.", prompt: "Dockers walked out.", maxTokens: 30))
        #expect(response.text == "Strike at the port.")
        #expect(response.usage == TokenUsage(input: 40, output: 9))
        let sent = try #require(server.requests.first)
        #expect(sent.path == "/v1/messages")
        #expect(sent.headers["x-api-key"] == "sk-ant-secret")
        #expect(sent.headers["anthropic-version"] == "2023-06-01")
        #expect(sent.json["system"] as? String == "Classify.")
        #expect((sent.json["messages"] as? [[String: String]]) == [["role": "user", "content": "Dockers walked out."]])
    }

    @Test func retryAfterIsHonouredAndTheKeyIsNeverInAnError() async throws {
        let server = try await FakeModelServer.start { index, _ in
            index == 0 ? .init(status: 429, headers: ["retry-after": "1"], body: ProviderWire.openAIError) : .init(body: ProviderWire.openAI("ok"))
        }
        defer { Task { await server.close() } }
        setenv("BATON_TEST_OPENAI_KEY", "sk-test-secret", 1)
        let model = try OpenAICompatibleModel(model: "m", baseURL: server.baseURL + "/v1", apiKeyEnvironment: "BATON_TEST_OPENAI_KEY", retries: 1)
        let started = ContinuousClock.now
        #expect(try await model.complete(ChatRequest(prompt: "hi")).text == "ok")
        #expect(ContinuousClock.now - started >= .seconds(1))
        #expect(server.requests.count == 2)

        let failing = try await FakeModelServer.start { _, _ in .init(status: 529, body: ProviderWire.anthropicOverloaded) }
        defer { Task { await failing.close() } }
        setenv("BATON_TEST_ANTHROPIC_KEY", "sk-ant-secret", 1)
        let claude = try AnthropicModel(model: "c", baseURL: failing.baseURL, apiKeyEnvironment: "BATON_TEST_ANTHROPIC_KEY", retries: 1)
        await #expect {
            _ = try await claude.complete(ChatRequest(prompt: "hi"))
        } throws: { error in
            let error = try #require(error as? ModelError)
            return error.code == .httpStatus && error.status == 529 && error.message == "overloaded_error: Overloaded"
                && !"\(error)".contains("sk-ant-secret")
        }
        #expect(failing.requests.count == 2)
    }
}

@Suite("The model router", .tags(.process))
struct ModelRouterTests {
    @Test func aModelsFileInYAMLBuildsTheRouterAndABadOneIsRefusedInOneLine() throws {
        // Every key a models file may have (the key variable only has to be set: nothing is sent).
        let yaml = """
            models:
              - {name: local, provider: openai, model: llama3.1, baseURL: "http://127.0.0.1:9/v1", apiKeyEnvironment: HOME,
                 capabilities: [text], price: {inputPerMillion: 0.1, outputPerMillion: 0.2}, timeoutSeconds: 3, retries: 1,
                 breaker: {failures: 2, coolDownSeconds: 5}}
              - {name: tagger, provider: rules, rules: [{label: weather, pattern: storm}], fallbackLabel: calm, templates: {draft: "{{text}}!"}}
            routes:
              - {task: classify, candidates: [local, tagger], requires: [json], maxCostUSD: 0.5, latencyBudgetSeconds: 2}
            budget: {perRunUSD: 0.5, perWorkflowPerDayUSD: 20}
            reasks: 1
            """
        let router = try ModelCatalog.parse(try ConfigurationFile.json(fromYAML: Data(yaml.utf8)))
        #expect(router.routes["classify"] == ModelRoute(task: "classify", candidates: ["local", "tagger"], requires: [.json], maxCostUSD: 0.5, latencyBudget: .seconds(2)))
        #expect(router.models["local"]?.breaker.failureThreshold == 2)
        #expect(router.models["local"]?.price == ModelPrice(inputPerMillion: Decimal(string: "0.1")!, outputPerMillion: Decimal(string: "0.2")!))
        #expect(router.budget == ModelBudget(perRunUSD: Decimal(string: "0.5"), perWorkflowPerDayUSD: 20))
        // Priced, or rule-based: nothing to warn of.
        #expect(router.unpricedModels.isEmpty)
        let unpriced = try ModelRouter(
            models: [RoutableModel(try OpenAICompatibleModel(model: "m", name: "local-llm", baseURL: "http://127.0.0.1:9/v1")), router.models["tagger"]!],
            routes: []
        )
        #expect(unpriced.unpricedModels == ["local-llm"])
        // Only the rules model can answer in JSON.
        #expect(try router.candidates(for: "classify", ChatRequest(prompt: "storm")).map(\.model.name) == ["tagger"])
        for (bad, message) in [
            (#"{"models": [], "routes": [{"task": "t", "candidates": ["ghost"]}]}"#, "route t names model ghost, which is not configured (configured: )"),
            (#"{"models": [{"name": "x", "provider": "psychic"}], "routes": []}"#, "model x has provider psychic; known: openai, anthropic, rules"),
            (#"{"models": [{"name": "x", "provider": "openai"}], "routes": []}"#, "model x (openai) needs a baseURL"),
            (#"{"routes": []}"#, #"not a models file: at the top: missing "models""#),
            (#"{"models": [], "routes": [], "budgets": {}}"#, #"the top has an unknown key "budgets" (known: budget, models, reasks, routes)"#),
            (#"{"models": [{"name": "x", "provider": "rules", "timeout": 5}], "routes": []}"#,
             #"models[0] (x) has an unknown key "timeout" (known: apiKeyEnvironment, baseURL, breaker, capabilities, fallbackLabel, model, name, price, provider, retries, rules, templates, timeoutSeconds)"#),
            (#"{"models": [{"name": "x", "provider": "rules", "price": {"input": 1}}], "routes": []}"#,
             #"models[0] (x).price has an unknown key "input" (known: inputPerMillion, outputPerMillion)"#),
            (#"{"models": [{"name": "x", "provider": "rules", "breaker": {"failures": 3, "cooldown": 9}}], "routes": []}"#,
             #"models[0] (x).breaker has an unknown key "cooldown" (known: coolDownSeconds, failures)"#),
            (#"{"models": [{"name": "x", "provider": "rules", "rules": [{"label": "a", "regex": "b"}]}], "routes": []}"#,
             #"models[0] (x).rules[0] has an unknown key "regex" (known: label, pattern)"#),
            (#"{"models": [], "routes": [{"task": "t", "candidates": [], "maxCost": 1}]}"#,
             #"routes[0] (t) has an unknown key "maxCost" (known: candidates, latencyBudgetSeconds, maxCostUSD, requires, task)"#),
            (#"{"models": [], "routes": [], "budget": {"perRun": 1}}"#, #"budget has an unknown key "perRun" (known: perRunUSD, perWorkflowPerDayUSD)"#),
        ] {
            #expect { try ModelCatalog.parse(Data(bad.utf8)) } throws: { ($0 as? BatonError)?.message == message }
        }
    }

    @Test func theFirstCandidateWithTheCapabilitiesWithinTheCostCeilingIsChosen() async throws {
        let server = try await FakeModelServer.start { _, _ in .init(body: ProviderWire.openAI(#"{"label": "strike"}"#)) }
        defer { Task { await server.close() } }
        let textOnly = try OpenAICompatibleModel(model: "m", name: "text-only", baseURL: server.baseURL + "/v1", capabilities: [.text])
        let dear = try openAI(server, name: "dear")
        let cheap = try openAI(server, name: "cheap")
        let router = try ModelRouter(
            models: [RoutableModel(textOnly), RoutableModel(dear, price: ModelPrice(inputPerMillion: 5_000, outputPerMillion: 15_000)),
                     RoutableModel(cheap, price: ModelPrice(inputPerMillion: 0.15, outputPerMillion: 0.6))],
            routes: [ModelRoute(task: "classify", candidates: ["text-only", "dear", "cheap"], requires: [.json], maxCostUSD: 0.01)]
        )
        let request = ChatRequest(prompt: "Dockers walked out", maxTokens: 100)
        #expect(try router.candidates(for: "classify", request).map(\.model.name) == ["cheap"])
        let answer = try await router.answer("classify", request)
        #expect(answer.model == "cheap" && answer.attempts.map(\.model) == ["cheap"])
        // 20 tokens in, 5 out at 0.15 and 0.60 a million.
        #expect(answer.costUSD == Decimal(string: "0.000006"))
    }

    @Test func costsAreTokensTimesThePriceRoundedToTheMicrodollar() {
        let price = ModelPrice(inputPerMillion: Decimal(string: "0.15")!, outputPerMillion: Decimal(string: "0.60")!)
        #expect(price.cost(of: TokenUsage(input: 1_234, output: 567)) == Decimal(string: "0.000525"))
        #expect(price.cost(of: TokenUsage(input: 1_000_000, output: 1_000_000)) == Decimal(string: "0.75"))
        #expect(ModelPrice.free.cost(of: TokenUsage(input: 10, output: 10)) == 0)
    }

    @Test func aFailingProviderFallsBackOn500TimeoutMalformedAnswersAndRefusals() async throws {
        let broken = try await FakeModelServer.start { _, _ in .init(status: 500, body: ProviderWire.openAIError) }
        let slow = try await FakeModelServer.start { _, _ in .init(body: ProviderWire.openAI("late"), delay: .seconds(3)) }
        let garbled = try await FakeModelServer.start { _, _ in .init(body: #"{"choices": "#) }
        let refusing = try await FakeModelServer.start { _, _ in
            .init(body: #"{"choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."}, "finish_reason": "stop"}]}"#)
        }
        let good = try await FakeModelServer.start { _, _ in .init(body: ProviderWire.openAI("Rotterdam")) }
        let servers = [broken, slow, garbled, refusing, good]
        defer { Task { for server in servers { await server.close() } } }
        let names = ["broken", "slow", "garbled", "refusing", "good"]
        let router = try ModelRouter(
            models: try zip(servers, names).map { RoutableModel(try openAI($0, name: $1)) },
            routes: [ModelRoute(task: "draft", candidates: names, latencyBudget: .milliseconds(500))]
        )
        let answer = try await router.answer("draft", ChatRequest(prompt: "Where?"))
        #expect(answer.text == "Rotterdam" && answer.model == "good" && answer.fallbacks == 4)
        #expect(answer.attempts.map(\.outcome) == ["http status", "timeout", "malformed response", "refusal", "ok"])
        #expect(servers.map(\.requests.count) == [1, 1, 1, 1, 1])
    }

    @Test func aModelOfYourOwnThatThrowsItsOwnErrorFallsBackToo() async throws {
        struct Flaky: ChatModel {
            struct Down: Error {}
            let name = "own"
            let capabilities: Set<ModelCapability> = [.text]
            func complete(_ request: ChatRequest) async throws -> ChatResponse { throw Down() }
        }
        let router = try ModelRouter(
            models: [RoutableModel(Flaky()), RoutableModel(try Examples.rules())],
            routes: [ModelRoute(task: "draft", candidates: ["own", "rules"])]
        )
        let answer = try await router.answer("draft", ChatRequest(prompt: "Order 7 ships today."))
        #expect(answer.model == "rules" && answer.text == "Order 7 ships today. We are sorry for the wait.")
        #expect(answer.attempts.map(\.outcome) == ["error", "ok"])
    }

    @Test func aBreakerOpensAfterConsecutiveFailuresSkipsTheProviderThenProbesAfterTheCoolDown() async throws {
        let healthy = Mutex(false)
        let flaky = try await FakeModelServer.start { _, _ in
            healthy.withLock { $0 } ? .init(body: ProviderWire.openAI("back")) : .init(status: 503, body: ProviderWire.openAIError)
        }
        let spare = try await FakeModelServer.start { _, _ in .init(body: ProviderWire.openAI("spare")) }
        defer { Task { for server in [flaky, spare] { await server.close() } } }
        let clock = HandClock()
        let breaker = CircuitBreaker(failureThreshold: 3, coolDown: .seconds(30), now: { clock.now })
        let router = try ModelRouter(
            models: [RoutableModel(try openAI(flaky, name: "flaky"), breaker: breaker), RoutableModel(try openAI(spare, name: "spare"))],
            routes: [ModelRoute(task: "draft", candidates: ["flaky", "spare"])]
        )
        for _ in 0..<3 { #expect(try await router.answer("draft", ChatRequest(prompt: "?")).model == "spare") }
        #expect(breaker.position == .open)
        // Open: skipped without a request.
        let skipped = try await router.answer("draft", ChatRequest(prompt: "?"))
        #expect(skipped.attempts.map(\.outcome) == ["circuit open", "ok"])
        #expect(flaky.requests.count == 3)
        // After the cool-down one probe goes through; it succeeds and closes the breaker.
        clock.advance(by: .seconds(31))
        #expect(breaker.position == .halfOpen)
        healthy.withLock { $0 = true }
        #expect(try await router.answer("draft", ChatRequest(prompt: "?")).model == "flaky")
        #expect(breaker.position == .closed && flaky.requests.count == 4)
    }

    @Test func aStructuredAnswerThatDoesNotDecodeIsAskedAgainWithTheError() async throws {
        let server = try await FakeModelServer.start { index, _ in
            .init(body: ProviderWire.openAI(index == 0 ? "It is a strike." : "```json\n{\"label\": \"strike\"}\n```"))
        }
        defer { Task { await server.close() } }
        struct Label: Decodable { let label: String }
        let router = try ModelRouter(models: [RoutableModel(try openAI(server))], routes: [ModelRoute(task: "classify", candidates: ["gpt"])])
        let answer = try await router.structured(Label.self, task: "classify", ChatRequest(prompt: "Dockers walked out"))
        #expect(try answer.decode(Label.self).label == "strike")
        #expect(answer.attempts.map(\.outcome) == ["invalid structured output", "ok"])
        let second = try #require(server.requests.last?.json["messages"] as? [[String: String]])
        #expect(second.count == 3 && second[1] == ["role": "assistant", "content": "It is a strike."])
        #expect(second[2]["content"]?.hasPrefix("That answer could not be read as the JSON asked for") == true)
    }

    @Test func aDraftTheValidatorRejectsIsADisagreement() async throws {
        let drafter = try await FakeModelServer.start { _, _ in .init(body: ProviderWire.openAI("Your order ships tomorrow.")) }
        let checker = try await FakeModelServer.start { _, _ in .init(body: ProviderWire.openAI(#"{"agrees": false, "reason": "it ships next week"}"#)) }
        defer { Task { for server in [drafter, checker] { await server.close() } } }
        let router = try ModelRouter(
            models: [RoutableModel(try openAI(drafter, name: "drafter")), RoutableModel(try openAI(checker, name: "checker"))],
            routes: [ModelRoute(task: "draft", candidates: ["drafter"]), ModelRoute(task: "validate", candidates: ["checker"])]
        )
        await #expect {
            _ = try await router.draftAndValidate(task: "draft", validator: "validate", ChatRequest(prompt: "When?"))
        } throws: { error in
            (error as? ModelError)?.code == .disagreement && "\(error)".contains("it ships next week")
        }
    }
}

/// One model call per visit, then done: for budget tests.
struct Summarise: Workflow {
    static let name = "summarise"
    static let version = 1
    struct Context: Codable, Sendable { var summary: String? }
    enum State: String, WorkflowState { case summarise, done, review, failed }

    static var definition: Definition<Self> {
        Definition(initial: .summarise) {
            Action(.summarise, to: .done, onError: .failed, onBudgetExceeded: .review) { run in
                run.context.summary = try await run.model("summarise", task: "draft", ChatRequest(prompt: "Summarise the delay", maxTokens: 100)).text
                return .done
            }
            Terminal(.done)
            Terminal(.review, outcome: .cancelled)
            Terminal(.failed, outcome: .failed)
        }
    }
}

@Suite("Model calls in workflows", .tags(.database, .process))
struct ModelStepTests {
    static func router(_ server: FakeModelServer, budget: ModelBudget) throws -> ModelRouter {
        try ModelRouter(
            models: [RoutableModel(try openAI(server), price: ModelPrice(inputPerMillion: 1_000, outputPerMillion: 2_000))],
            routes: [ModelRoute(task: "draft", candidates: ["gpt"])], budget: budget
        )
    }

    static func drive(_ store: RunStore, _ router: ModelRouter) async throws -> RunDriver.Stop? {
        guard let run = try await store.claim(versions: [(name: Summarise.name, version: 1)], limit: 1, lease: .seconds(30)).first else { return nil }
        return try await RunDriver(store: store, models: router).drive(Summarise.self, run)
    }

    @Test func aCallIsJournaledWithItsModelTokensAndCostAndACallPastTheBudgetTakesTheBudgetTransition() async throws {
        let server = try await FakeModelServer.start { _, _ in .init(body: ProviderWire.openAI("Storm at Rotterdam.", promptTokens: 20, completionTokens: 5)) }
        defer { Task { await server.close() } }
        try await withMigratedStore { store, clockwork in
            // A call costs 20 × 0.001 + 5 × 0.002 = $0.03; at worst (an estimated 5 tokens
            // in, 100 out) $0.205.
            let router = try Self.router(server, budget: ModelBudget(perWorkflowPerDayUSD: Decimal(string: "0.25")))
            let first = try await store.start(Summarise.self, context: .init()).runID
            #expect(try await Self.drive(store, router) == .finished(.succeeded))
            let row = try await clockwork.connection.query("""
                SELECT model, tokens_in, tokens_out, cost_usd::text, payload ->> 'task' FROM baton.journal WHERE run_id = \(first) AND kind = 'step-completed'
                """)[0]
            #expect(try row.decode(String.self, at: 0) == "gpt")
            #expect(try row.decode(Int.self, at: 1) == 20 && row.decode(Int.self, at: 2) == 5)
            #expect(try row.decode(String.self, at: 3) == "0.030000")
            #expect(try row.decode(String.self, at: 4) == "draft")
            // $0.03 spent today: a second call could reach $0.235, allowed; after it, a
            // third could reach $0.265, refused.
            _ = try await store.start(Summarise.self, context: .init())
            #expect(try await Self.drive(store, router) == .finished(.succeeded))
            let third = try await store.start(Summarise.self, context: .init()).runID
            #expect(try await Self.drive(store, router) == .finished(.cancelled))
            #expect(server.requests.count == 2)
            let refused = try #require(try await store.journal(of: third).last { $0.record.kind == .transition })
            #expect(refused.record.description.hasPrefix("transition summarise -> review (budget exceeded)"))
            #expect(try await store.costs(by: .workflow) == [CostLine(key: "summarise", calls: 2, tokensIn: 40, tokensOut: 10, costUSD: Decimal(string: "0.06")!)])
            #expect(try await store.verify().mismatches.isEmpty)
        }
    }

    @Test func aRunBudgetRefusesACallThatCouldPassItAndTheViewsCountFallbacksAndErrors() async throws {
        let broken = try await FakeModelServer.start { _, _ in .init(status: 500, body: ProviderWire.openAIError) }
        let good = try await FakeModelServer.start { _, _ in .init(body: ProviderWire.openAI("Storm.", promptTokens: 20, completionTokens: 5)) }
        defer { Task { for server in [broken, good] { await server.close() } } }
        try await withMigratedStore { store, clockwork in
            let price = ModelPrice(inputPerMillion: 1_000, outputPerMillion: 2_000)
            func router(_ budget: ModelBudget) throws -> ModelRouter {
                try ModelRouter(
                    models: [RoutableModel(try openAI(broken, name: "broken"), price: price), RoutableModel(try openAI(good, name: "gpt"), price: price)],
                    routes: [ModelRoute(task: "draft", candidates: ["broken", "gpt"])], budget: budget
                )
            }
            // At worst $0.205 a call: a $0.20 run budget allows none.
            let refused = try await store.start(Summarise.self, context: .init()).runID
            #expect(try await Self.drive(store, try router(ModelBudget(perRunUSD: Decimal(string: "0.20")))) == .finished(.cancelled))
            #expect(try await store.journal(of: refused).last { $0.record.kind == .transition }?.record.error?.hasPrefix("budget exceeded: the run budget is $0.2") == true)
            #expect(broken.requests.isEmpty && good.requests.isEmpty)

            _ = try await store.start(Summarise.self, context: .init())
            #expect(try await Self.drive(store, try router(ModelBudget(perRunUSD: 1))) == .finished(.succeeded))
            let attempts = try await clockwork.connection.query("SELECT model, outcome FROM baton.model_attempts ORDER BY model")
                .map { "\(try $0.decode(String.self, at: 0)) \(try $0.decode(String.self, at: 1))" }
            #expect(attempts == ["broken http status", "gpt ok"])
            let performance = try await clockwork.connection.query("""
                SELECT model, attempts, answered, error_rate::text, coalesce(fallback_rate::text, '-') FROM baton.model_performance ORDER BY model
                """).map { row in try (0..<5).map { try row.decode(String.self, at: $0) }.joined(separator: " ") }
            #expect(performance == ["broken 1 0 1.0000 -", "gpt 1 1 0.0000 1.0000"])
            let call = try await clockwork.connection.query("SELECT fallbacks, cost_usd::text FROM baton.model_calls")[0]
            #expect(try call.decode(Int.self, at: 0) == 1 && call.decode(String.self, at: 1) == "0.030000")
        }
    }

    @Test func aModelCallJournaledBeforeTheWorkerIsKilledIsNotMadeAgain() async throws {
        let server = try await FakeModelServer.start { _, request in
            let system = ((request.json["messages"] as? [[String: String]])?.first?["content"]) ?? ""
            return .init(body: ProviderWire.openAI(system.hasPrefix("Classify") ? #"{"label": "strike"}"# : "Your order is on its way. Sorry!"))
        }
        defer { Task { await server.close() } }
        try await withMigratedStore { store, clockwork in
            try await ScratchFolder.with("baton-models") { folder in
                let worker = BatonProcess(
                    ["worker", "--lease-seconds", "1", "--poll-milliseconds", "50"],
                    environment: ["BATON_DATABASE_URL": clockwork.configuration.connectionString, "BATON_MODEL_BASE_URL": server.baseURL + "/v1",
                                  "BATON_MODEL": "gpt-4o-mini", "BATON_MODEL_PRICE": "0.15/0.60"]
                )
                let order = try await store.start(OrderDelay.self, context: .init(orderID: "ORD-7001", quantity: 2, delayNote: "Dockers are on strike")).runID
                let first = try worker.start(log: folder.appending(path: "first.log").path)
                // Killed the moment its classification is journaled.
                #expect(try await eventually {
                    try await clockwork.connection.query("SELECT count(*) FROM baton.journal WHERE run_id = \(order) AND step_name = 'classify-delay' AND kind = 'step-completed'").scalar(Int.self) == 1
                })
                kill(first.pid, SIGKILL)
                _ = await first.exitStatus()
                let second = try worker.start(log: folder.appending(path: "second.log").path)
                #expect(try await eventually { try await store.run(order)?.state == "awaitCarrier" })
                try await store.send("carrier-confirmed", to: order, payload: #"{"carrier": "DHL"}"#)
                #expect(try await eventually(within: .seconds(60)) { try await store.run(order)?.status == "succeeded" })
                kill(second.pid, SIGTERM)
                _ = await second.exitStatus()

                let key = "\(order.uuidString.lowercased()):1:classify-delay"
                #expect(server.requests.filter { $0.headers["idempotency-key"] == key }.count == 1)
                #expect(server.requests.count == 2)  // the classification and the child's notice
                let context = try #require(try await store.run(order)).decodeContext(as: OrderDelay.self)
                #expect(context.delayCause == "strike")
                let models = try await clockwork.connection.query("SELECT DISTINCT model FROM baton.model_calls").map { try $0.decode(String.self, at: 0) }
                #expect(models == ["gpt-4o-mini"])
                #expect(try await store.verify().mismatches.isEmpty)
                // Two calls of 20 tokens in and 5 out at 0.15 and 0.60 a million.
                let costs = try await BatonProcess(["costs", "--by", "model", "--json"], environment: ["BATON_DATABASE_URL": clockwork.configuration.connectionString]).run()
                #expect(costs.status == 0)
                #expect(try JSONDecoder().decode([CostLine].self, from: Data(costs.standardOutput.utf8))
                    == [CostLine(key: "gpt-4o-mini", calls: 2, tokensIn: 40, tokensOut: 10, costUSD: Decimal(string: "0.000012")!)])
            }
        }
    }
}
