import Baton
import BatonExamples
import BatonProviders
import Foundation

/// The models `baton worker` gives the example workflows:
/// - a models file (`--models`, or `BATON_MODELS_FILE`), which may name the built-in
///   `rules` model without defining it;
/// - else a real model when the environment names one, in front of `rules`: any
///   OpenAI-compatible server at `BATON_MODEL_BASE_URL` (Ollama, vLLM, llama.cpp; with
///   `OPENAI_API_KEY` if it needs a key), else OpenAI with `OPENAI_API_KEY`, else
///   Anthropic with `ANTHROPIC_API_KEY`; `BATON_MODEL` names the model and
///   `BATON_MODEL_PRICE` its price (`0.15/0.60`: dollars per million tokens in and out);
/// - else `rules` alone, offline.
enum ModelSetup {
    static func router(file: String?, environment: [String: String]) throws -> ModelRouter {
        if let file = file ?? environment["BATON_MODELS_FILE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            return try ModelCatalog.load(from: URL(fileURLWithPath: file), extraModels: [RoutableModel(try Examples.rules())])
        }
        let price = try environment["BATON_MODEL_PRICE"].map(parsePrice) ?? .free
        let model = environment["BATON_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
        let real: (any ChatModel)?
        if let baseURL = environment["BATON_MODEL_BASE_URL"], !baseURL.isEmpty {
            real = try OpenAICompatibleModel(
                model: model ?? "gpt-4o-mini", baseURL: baseURL, apiKeyEnvironment: environment["OPENAI_API_KEY"] == nil ? nil : "OPENAI_API_KEY"
            )
        } else if environment["OPENAI_API_KEY"]?.isEmpty == false {
            real = try OpenAICompatibleModel(model: model ?? "gpt-4o-mini", baseURL: "https://api.openai.com/v1", apiKeyEnvironment: "OPENAI_API_KEY")
        } else if environment["ANTHROPIC_API_KEY"]?.isEmpty == false {
            real = try AnthropicModel(model: model ?? "claude-3-5-haiku-latest")
        } else {
            real = nil
        }
        return try Examples.models(real.map { [RoutableModel($0, price: price)] } ?? [])
    }

    /// `0.15/0.60` as a price per million tokens in and out.
    static func parsePrice(_ text: String) throws -> ModelPrice {
        let parts = text.split(separator: "/").map { Decimal(string: String($0).trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let input = parts[0], let output = parts[1], input >= 0, output >= 0 else {
            throw BatonError(.invalidRequest, "BATON_MODEL_PRICE must read like 0.15/0.60 (dollars per million tokens in/out), not \(text)")
        }
        return ModelPrice(inputPerMillion: input, outputPerMillion: output)
    }
}
