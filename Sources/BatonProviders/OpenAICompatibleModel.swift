import AsyncHTTPClient
import Baton
import Foundation

/// A model behind the OpenAI chat completions API (`POST {baseURL}/chat/completions`),
/// which OpenAI, vLLM, Ollama and llama.cpp's server all speak.
///
/// ```swift
/// let model = try OpenAICompatibleModel(model: "gpt-4o-mini", baseURL: "https://api.openai.com/v1", apiKeyEnvironment: "OPENAI_API_KEY")
/// ```
/// The key is read from the environment when the model is made, sent as a bearer token,
/// and never journaled or logged. A local server needs none.
public struct OpenAICompatibleModel: ChatModel {
    public let name: String
    public let capabilities: Set<ModelCapability>
    let baseURL: String
    let apiKey: String?
    let transport: HTTPModelTransport

    /// - Parameters:
    ///   - name: the name routes and the journal use; the model's own by default.
    ///   - apiKeyEnvironment: the environment variable holding the key, if the server needs one.
    public init(
        model: String, name: String? = nil, baseURL: String, apiKeyEnvironment: String? = nil,
        capabilities: Set<ModelCapability> = [.text, .json, .tools], timeout: Duration = .seconds(60), retries: Int = 2,
        maxRetryAfter: Duration = .seconds(30), client: HTTPClient = .shared
    ) throws {
        self.name = name ?? model
        self.capabilities = capabilities
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        apiKey = try apiKeyEnvironment.map { variable in
            guard let key = ProcessInfo.processInfo.environment[variable], !key.isEmpty else {
                throw BatonError(.invalidRequest, "model \(name ?? model) reads its API key from \(variable), which is not set")
            }
            return key
        }
        wireModel = model
        transport = HTTPModelTransport(client: client, model: name ?? model, timeout: timeout, retries: retries, maxRetryAfter: maxRetryAfter)
    }

    /// The model's name on the server.
    let wireModel: String

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let body = try JSONEncoder().encode(Wire.Request(request, model: wireModel))
        let answer = try await transport.post(
            baseURL + "/chat/completions", headers: (apiKey.map { [("authorization", "Bearer \($0)")] } ?? []) + (request.idempotencyKey.map { [("idempotency-key", $0)] } ?? []), body: body
        )
        let completion: Wire.Completion
        do {
            completion = try JSONDecoder().decode(Wire.Completion.self, from: answer)
        } catch {
            throw ModelError(.malformedResponse, model: name, "not a chat completion: \(decodingProblem(error))")
        }
        guard let choice = completion.choices.first else { throw ModelError(.malformedResponse, model: name, "a completion without choices") }
        if let refusal = choice.message.refusal { throw ModelError(.refusal, model: name, refusal) }
        if choice.finishReason == "content_filter" { throw ModelError(.refusal, model: name, "stopped by the content filter") }
        let calls = (choice.message.toolCalls ?? []).map { ToolCall(id: $0.id, name: $0.function.name, arguments: $0.function.arguments) }
        guard choice.message.content != nil || !calls.isEmpty else { throw ModelError(.malformedResponse, model: name, "a message with neither content nor tool calls") }
        return ChatResponse(
            text: choice.message.content ?? "", toolCalls: calls,
            usage: TokenUsage(input: completion.usage?.promptTokens ?? 0, output: completion.usage?.completionTokens ?? 0)
        )
    }

    /// The chat completions wire format, as OpenAI documents it.
    enum Wire {
        struct Request: Encodable {
            struct Message: Encodable {
                let role: String
                let content: String
            }
            struct Tool: Encodable {
                struct Function: Encodable {
                    let name: String
                    let description: String
                    let parameters: RawJSON
                }
                let type = "function"
                let function: Function
            }
            struct ResponseFormat: Encodable { let type = "json_object" }

            let model: String
            let messages: [Message]
            let maxTokens: Int
            let temperature: Double?
            let tools: [Tool]?
            let responseFormat: ResponseFormat?

            enum CodingKeys: String, CodingKey {
                case model, messages, temperature, tools
                case maxTokens = "max_tokens"
                case responseFormat = "response_format"
            }

            init(_ request: ChatRequest, model: String) {
                self.model = model
                messages = request.messages.map { Message(role: $0.role.rawValue, content: $0.content) }
                maxTokens = request.maxTokens
                temperature = request.temperature
                tools = request.tools.isEmpty ? nil : request.tools.map {
                    Tool(function: .init(name: $0.name, description: $0.description, parameters: RawJSON($0.parametersSchema)))
                }
                responseFormat = request.wantsJSON ? ResponseFormat() : nil
            }
        }

        struct Completion: Decodable {
            struct Choice: Decodable {
                struct Message: Decodable {
                    struct Call: Decodable {
                        struct Function: Decodable {
                            let name: String
                            let arguments: String
                        }
                        let id: String
                        let function: Function
                    }
                    let content: String?
                    let refusal: String?
                    let toolCalls: [Call]?
                    enum CodingKeys: String, CodingKey {
                        case content, refusal
                        case toolCalls = "tool_calls"
                    }
                }
                let message: Message
                let finishReason: String?
                enum CodingKeys: String, CodingKey {
                    case message
                    case finishReason = "finish_reason"
                }
            }
            struct Usage: Decodable {
                let promptTokens: Int
                let completionTokens: Int
                enum CodingKeys: String, CodingKey {
                    case promptTokens = "prompt_tokens"
                    case completionTokens = "completion_tokens"
                }
            }
            let choices: [Choice]
            let usage: Usage?
        }
    }
}
