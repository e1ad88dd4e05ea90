import AsyncHTTPClient
import Baton
import Foundation

/// Builds a ``ModelRouter`` from a models file, JSON or YAML (`.yaml`, `.yml`), in the
/// same form as the approval policies' files:
///
/// ```yaml
/// models:
///   - {name: gpt-4o-mini, provider: openai, baseURL: "https://api.openai.com/v1", apiKeyEnvironment: OPENAI_API_KEY,
///      capabilities: [text, json, tools], price: {inputPerMillion: 0.15, outputPerMillion: 0.6}, timeoutSeconds: 30}
///   - {name: claude-haiku, provider: anthropic, model: claude-3-5-haiku-latest, apiKeyEnvironment: ANTHROPIC_API_KEY,
///      price: {inputPerMillion: 0.8, outputPerMillion: 4}, breaker: {failures: 3, coolDownSeconds: 60}}
///   - {name: rules, provider: rules, rules: [{label: weather, pattern: "storm|fog"}], templates: {draft: "{{text}}"}}
/// routes:
///   - {task: classify, candidates: [gpt-4o-mini, claude-haiku, rules], requires: [json], maxCostUSD: 0.01, latencyBudgetSeconds: 10}
/// budget: {perRunUSD: 0.50, perWorkflowPerDayUSD: 20}
/// ```
/// `provider` is `openai` (any OpenAI-compatible server: OpenAI, vLLM, Ollama,
/// llama.cpp), `anthropic` or `rules`. Keys are read from the environment variables
/// named, never from the file.
public enum ModelCatalog {
    /// - Parameter extraModels: models the file may name without defining them (a model it defines wins).
    public static func load(from url: URL, extraModels: [RoutableModel] = [], client: HTTPClient = .shared) throws -> ModelRouter {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw BatonError(.invalidRequest, "can't read models file \(url.path): \(error.localizedDescription)")
        }
        do {
            return try parse(ConfigurationFile.isYAML(url) ? try ConfigurationFile.json(fromYAML: data) : data, extraModels: extraModels, client: client)
        } catch let problem as ConfigurationFile.Problem {
            throw BatonError(.invalidRequest, "\(url.lastPathComponent): \(problem.message)")
        } catch let error as BatonError {
            throw BatonError(.invalidRequest, "\(url.lastPathComponent): \(error.message)")
        }
    }

    /// Parses a models file's JSON; see ``load(from:extraModels:client:)``.
    public static func parse(_ json: Data, extraModels: [RoutableModel] = [], client: HTTPClient = .shared) throws -> ModelRouter {
        try FileShape.check(json)
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: json)
        } catch {
            throw BatonError(.invalidRequest, "not a models file: \(decodingProblem(error))")
        }
        let models = extraModels + (try file.models.map { try $0.routable(client: client) })
        let routes = try file.routes.map { route in
            ModelRoute(
                task: route.task, candidates: route.candidates, requires: Set((route.requires ?? []).map { ModelCapability($0) }), maxCostUSD: route.maxCostUSD,
                latencyBudget: try route.latencyBudgetSeconds.map { try seconds($0, "route \(route.task): latencyBudgetSeconds") }
            )
        }
        return try ModelRouter(models: models, routes: routes, reasks: file.reasks ?? 2, budget: file.budget ?? ModelBudget())
    }

    /// `value` seconds, or a clear error naming `what`.
    static func seconds(_ value: Double, _ what: String) throws -> Duration {
        guard value > 0, let duration = Duration.seconds(ifSensible: value) else {
            throw BatonError(.invalidRequest, "\(what) must be a positive number of seconds, at most a century, not \(value)")
        }
        return duration
    }

    /// The keys each object of a models file may have, as the types below read them:
    /// any other key (a typo such as `timeout` for `timeoutSeconds`) is refused, as
    /// policy files refuse it, rather than silently ignored.
    enum FileShape {
        static let top: Set<String> = ["models", "routes", "budget", "reasks"]
        static let model: Set<String> = [
            "name", "provider", "model", "baseURL", "apiKeyEnvironment", "capabilities", "price", "timeoutSeconds", "retries",
            "breaker", "rules", "fallbackLabel", "templates",
        ]
        static let price: Set<String> = ["inputPerMillion", "outputPerMillion"]
        static let breaker: Set<String> = ["failures", "coolDownSeconds"]
        static let rule: Set<String> = ["label", "pattern"]
        static let route: Set<String> = ["task", "candidates", "requires", "maxCostUSD", "latencyBudgetSeconds"]
        static let budget: Set<String> = ["perRunUSD", "perWorkflowPerDayUSD"]

        /// Throws on the first unknown key. What is not an object where one belongs is
        /// left to the decoder, which says what it expected.
        static func check(_ json: Data) throws {
            guard let file = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { return }
            try check(file, allowed: top, at: "the top")
            for (index, model) in objects(file["models"]).enumerated() {
                let place = "models[\(index)]" + ((model["name"] as? String).map { " (\(escapingControlCharacters($0)))" } ?? "")
                try check(model, allowed: Self.model, at: place)
                if let price = model["price"] as? [String: Any] { try check(price, allowed: Self.price, at: "\(place).price") }
                if let breaker = model["breaker"] as? [String: Any] { try check(breaker, allowed: Self.breaker, at: "\(place).breaker") }
                for (number, rule) in objects(model["rules"]).enumerated() { try check(rule, allowed: Self.rule, at: "\(place).rules[\(number)]") }
            }
            for (index, route) in objects(file["routes"]).enumerated() {
                let place = "routes[\(index)]" + ((route["task"] as? String).map { " (\(escapingControlCharacters($0)))" } ?? "")
                try check(route, allowed: Self.route, at: place)
            }
            if let budget = file["budget"] as? [String: Any] { try check(budget, allowed: Self.budget, at: "budget") }
        }

        private static func objects(_ value: Any?) -> [[String: Any]] {
            (value as? [Any] ?? []).compactMap { $0 as? [String: Any] }
        }

        private static func check(_ object: [String: Any], allowed: Set<String>, at place: String) throws {
            if let problem = ConfigurationFile.unknownKey(in: object, allowed: allowed, at: place) { throw BatonError(.invalidRequest, problem) }
        }
    }

    struct File: Decodable {
        let models: [Model]
        let routes: [Route]
        let budget: ModelBudget?
        let reasks: Int?
    }

    struct Route: Decodable {
        let task: String
        let candidates: [String]
        let requires: [String]?
        let maxCostUSD: Decimal?
        let latencyBudgetSeconds: Double?
    }

    struct Model: Decodable {
        struct Breaker: Decodable {
            let failures: Int
            let coolDownSeconds: Double
        }
        struct Rule: Decodable {
            let label: String
            let pattern: String
        }
        let name: String
        let provider: String
        let model: String?
        let baseURL: String?
        let apiKeyEnvironment: String?
        let capabilities: [String]?
        let price: ModelPrice?
        let timeoutSeconds: Double?
        let retries: Int?
        let breaker: Breaker?
        let rules: [Rule]?
        let fallbackLabel: String?
        let templates: [String: String]?

        func routable(client: HTTPClient) throws -> RoutableModel {
            let capabilities = self.capabilities.map { Set($0.map { ModelCapability($0) }) }
            let timeout = try seconds(timeoutSeconds ?? 60, "model \(name): timeoutSeconds")
            let chat: any ChatModel
            switch provider {
            case "openai":
                guard let baseURL else { throw BatonError(.invalidRequest, "model \(name) (openai) needs a baseURL") }
                chat = try OpenAICompatibleModel(
                    model: model ?? name, name: name, baseURL: baseURL, apiKeyEnvironment: apiKeyEnvironment,
                    capabilities: capabilities ?? [.text, .json, .tools], timeout: timeout, retries: retries ?? 2, client: client
                )
            case "anthropic":
                chat = try AnthropicModel(
                    model: model ?? name, name: name, baseURL: baseURL ?? "https://api.anthropic.com",
                    apiKeyEnvironment: apiKeyEnvironment ?? "ANTHROPIC_API_KEY", capabilities: capabilities ?? [.text, .json, .tools, .reasoning],
                    timeout: timeout, retries: retries ?? 2, client: client
                )
            case "rules":
                chat = try RuleBasedModel(
                    name: name, rules: (rules ?? []).map { .init(label: $0.label, pattern: $0.pattern) }, fallbackLabel: fallbackLabel ?? "other",
                    templates: templates ?? [:]
                )
            default:
                throw BatonError(.invalidRequest, "model \(name) has provider \(provider); known: openai, anthropic, rules")
            }
            let breaker = try breaker.map {
                CircuitBreaker(failureThreshold: $0.failures, coolDown: try seconds($0.coolDownSeconds, "model \(name): breaker coolDownSeconds"))
            }
            return RoutableModel(chat, price: price ?? .free, breaker: breaker ?? CircuitBreaker())
        }
    }
}
