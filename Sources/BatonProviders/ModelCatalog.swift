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
