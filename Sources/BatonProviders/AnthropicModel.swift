import AsyncHTTPClient
import Baton
import Foundation

/// A Claude model behind Anthropic's Messages API (`POST {baseURL}/v1/messages`).
///
/// ```swift
/// let model = try AnthropicModel(model: "claude-3-5-haiku-latest", apiKeyEnvironment: "ANTHROPIC_API_KEY")
/// ```
/// The key is read from the environment when the model is made, sent as `x-api-key`,
/// and never journaled or logged.
public struct AnthropicModel: ChatModel {
    public let name: String
    public let capabilities: Set<ModelCapability>
    let baseURL: String
    let apiKey: String
    let wireModel: String
    let transport: HTTPModelTransport

    /// The API version this client speaks (the `anthropic-version` header).
    static let apiVersion = "2023-06-01"

    public init(
        model: String, name: String? = nil, baseURL: String = "https://api.anthropic.com", apiKeyEnvironment: String = "ANTHROPIC_API_KEY",
        capabilities: Set<ModelCapability> = [.text, .json, .tools, .reasoning], timeout: Duration = .seconds(60), retries: Int = 2,
        maxRetryAfter: Duration = .seconds(30), client: HTTPClient = .shared
    ) throws {
        self.name = name ?? model
        self.capabilities = capabilities
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        guard let key = ProcessInfo.processInfo.environment[apiKeyEnvironment], !key.isEmpty else {
            throw BatonError(.invalidRequest, "model \(name ?? model) reads its API key from \(apiKeyEnvironment), which is not set")
        }
        apiKey = key
        wireModel = model
        transport = HTTPModelTransport(client: client, model: name ?? model, timeout: timeout, retries: retries, maxRetryAfter: maxRetryAfter)
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let body = try JSONEncoder().encode(Wire.Request(request, model: wireModel))
        let answer = try await transport.post(
            baseURL + "/v1/messages", headers: [("x-api-key", apiKey), ("anthropic-version", Self.apiVersion)] + (request.idempotencyKey.map { [("idempotency-key", $0)] } ?? []), body: body
        )
        let message: Wire.Message
        do {
            message = try JSONDecoder().decode(Wire.Message.self, from: answer)
        } catch {
            throw ModelError(.malformedResponse, model: name, "not a message: \(decodingProblem(error))")
        }
        if message.stopReason == "refusal" { throw ModelError(.refusal, model: name, "the model declined to answer") }
        let text = message.content.compactMap { $0.type == "text" ? $0.text : nil }.joined()
        let calls = try message.content.filter { $0.type == "tool_use" }.map { block in
            guard let id = block.id, let name = block.name else { throw ModelError(.malformedResponse, model: name, "a tool_use block without id or name") }
            let arguments = try block.input.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) } ?? "{}"
            return ToolCall(id: id, name: name, arguments: arguments)
        }
        guard !text.isEmpty || !calls.isEmpty else { throw ModelError(.malformedResponse, model: name, "a message with neither text nor tool use") }
        return ChatResponse(text: text, toolCalls: calls, usage: TokenUsage(input: message.usage.inputTokens, output: message.usage.outputTokens))
    }

    /// The Messages API wire format, as Anthropic documents it.
    enum Wire {
        struct Request: Encodable {
            struct Message: Encodable {
                let role: String
                let content: String
            }
            struct Tool: Encodable {
                let name: String
                let description: String
                let inputSchema: RawJSON
                enum CodingKeys: String, CodingKey {
                    case name, description
                    case inputSchema = "input_schema"
                }
            }
            let model: String
            let maxTokens: Int
            let system: String?
            let messages: [Message]
            let temperature: Double?
            let tools: [Tool]?
            enum CodingKeys: String, CodingKey {
                case model, system, messages, temperature, tools
                case maxTokens = "max_tokens"
            }

            init(_ request: ChatRequest, model: String) {
                self.model = model
                maxTokens = request.maxTokens
                // The system prompt is its own field; JSON is asked for in words.
                let system = request.messages.filter { $0.role == .system }.map(\.content)
                    + (request.wantsJSON ? ["Answer with one JSON document and nothing else."] : [])
                self.system = system.isEmpty ? nil : system.joined(separator: "\n\n")
                messages = request.messages.filter { $0.role != .system }.map { Message(role: $0.role.rawValue, content: $0.content) }
                temperature = request.temperature
                tools = request.tools.isEmpty ? nil : request.tools.map { Tool(name: $0.name, description: $0.description, inputSchema: RawJSON($0.parametersSchema)) }
            }
        }

        struct Message: Decodable {
            struct Block: Decodable {
                let type: String
                let text: String?
                let id: String?
                let name: String?
                let input: JSONValue?
            }
            struct Usage: Decodable {
                let inputTokens: Int
                let outputTokens: Int
                enum CodingKeys: String, CodingKey {
                    case inputTokens = "input_tokens"
                    case outputTokens = "output_tokens"
                }
            }
            let content: [Block]
            let stopReason: String?
            let usage: Usage
            enum CodingKeys: String, CodingKey {
                case content, usage
                case stopReason = "stop_reason"
            }
        }
    }
}
