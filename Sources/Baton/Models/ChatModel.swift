import Foundation

/// A chat model: messages in; text, tool calls and token usage out. Providers (an
/// OpenAI-compatible server, Anthropic's Messages API, the offline ``RuleBasedModel``)
/// implement it; a ``ModelRouter`` picks one per task.
///
/// ```swift
/// struct EchoModel: ChatModel {
///     let name = "echo"
///     let capabilities: Set<ModelCapability> = [.text]
///     func complete(_ request: ChatRequest) async throws -> ChatResponse {
///         ChatResponse(text: request.messages.last?.content ?? "", usage: TokenUsage(input: 1, output: 1))
///     }
/// }
/// ```
public protocol ChatModel: Sendable {
    /// The name routes, prices and the journal know the model by.
    var name: String { get }
    /// What the model can do; a route may require some of these.
    var capabilities: Set<ModelCapability> { get }
    /// One completion. Throws a ``ModelError`` (an HTTP failure, a timeout, a refusal,
    /// an answer that could not be read).
    func complete(_ request: ChatRequest) async throws -> ChatResponse
}

/// A model that turns texts into vectors. No provider implements it yet; it is here so
/// that memory and retrieval can be added without changing ``ChatModel``.
public protocol EmbeddingModel: Sendable {
    var name: String { get }
    func embed(_ texts: [String]) async throws -> [[Double]]
}

/// What a model can do.
public struct ModelCapability: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let description: String
    public init(_ name: String) { description = name }
    public init(stringLiteral name: String) { description = name }
    public init(from decoder: any Decoder) throws { description = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Free text.
    public static let text: ModelCapability = "text"
    /// Answers in JSON when asked to (structured output).
    public static let json: ModelCapability = "json"
    /// Calls tools.
    public static let tools: ModelCapability = "tools"
    /// Longer reasoning.
    public static let reasoning: ModelCapability = "reasoning"
}

/// One message of a conversation.
public struct ChatMessage: Sendable, Hashable, Codable {
    public enum Role: String, Sendable, Hashable, Codable { case system, user, assistant }
    public let role: Role
    public let content: String

    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(.system, content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(.user, content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(.assistant, content) }
}

/// A tool the model may call: a name, what it does, and its parameters as a JSON schema.
public struct ToolSpec: Sendable, Hashable, Codable {
    public let name: String
    public let description: String
    /// JSON text of the parameters' JSON schema.
    public let parametersSchema: String

    public init(name: String, description: String, parametersSchema: String = #"{"type": "object"}"#) {
        self.name = name
        self.description = description
        self.parametersSchema = parametersSchema
    }
}

/// What is asked of a model.
public struct ChatRequest: Sendable, Hashable, Codable {
    public var messages: [ChatMessage]
    /// The longest answer, in tokens; also what a budget check counts a call as at most.
    public var maxTokens: Int
    public var temperature: Double?
    public var tools: [ToolSpec]
    /// Ask for a JSON answer (structured output).
    public var wantsJSON: Bool
    /// The task the router routes the request for; set by ``ModelRouter``, not sent to providers.
    public var task: String?
    /// The calling step's idempotency key; HTTP providers send it as `Idempotency-Key`,
    /// so a proxy or the provider can tell a repeated call from a new one.
    public var idempotencyKey: String?

    public init(messages: [ChatMessage], maxTokens: Int = 512, temperature: Double? = nil, tools: [ToolSpec] = [], wantsJSON: Bool = false) {
        self.messages = messages
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.tools = tools
        self.wantsJSON = wantsJSON
    }

    /// A system instruction and one user message.
    public init(system: String? = nil, prompt: String, maxTokens: Int = 512, wantsJSON: Bool = false) {
        self.init(messages: (system.map { [.system($0)] } ?? []) + [.user(prompt)], maxTokens: maxTokens, wantsJSON: wantsJSON)
    }

    /// The prompt's size in tokens, roughly (four characters a token), for budget checks
    /// made before a call.
    public var estimatedInputTokens: Int { messages.reduce(0) { $0 + $1.content.utf8.count } / 4 + 1 }
}

/// A call of a tool the model asked for.
public struct ToolCall: Sendable, Hashable, Codable {
    public let id: String
    public let name: String
    /// JSON text of the arguments.
    public let arguments: String

    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// Tokens a call used, as the provider counted them.
public struct TokenUsage: Sendable, Hashable, Codable {
    public let input: Int
    public let output: Int

    public init(input: Int, output: Int) {
        self.input = input
        self.output = output
    }
}

/// A model's answer.
public struct ChatResponse: Sendable, Hashable, Codable {
    public let text: String
    public let toolCalls: [ToolCall]
    public let usage: TokenUsage

    public init(text: String, toolCalls: [ToolCall] = [], usage: TokenUsage) {
        self.text = text
        self.toolCalls = toolCalls
        self.usage = usage
    }
}
