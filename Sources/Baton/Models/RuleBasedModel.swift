import Foundation

/// A model made of rules, for offline work and as the last fallback of a route: the
/// seed counts rule-based engines among the models. It is not a language model: it
/// classifies by keywords and regular expressions, and drafts by filling templates.
///
/// - Drafting: a request for a task that has a template (``templates``, by task) gets
///   that template with `{{text}}` replaced by the last user message.
/// - Classification, for any other task: the last user message is matched against
///   ``rules`` in order; the first whose pattern matches gives the label, else
///   ``fallbackLabel``. A request that wants JSON gets `{"label": "…", "rule": "…"}`;
///   else the bare label.
///
/// Usage counts words, so costs and the journal's token columns are filled; its price is
/// zero.
public struct RuleBasedModel: ChatModel {
    /// A label and the pattern (a regular expression, case-insensitive) that earns it.
    public struct Rule: Sendable, Hashable {
        public let label: String
        public let pattern: String

        public init(label: String, pattern: String) {
            self.label = label
            self.pattern = pattern
        }
    }

    public let name: String
    public let rules: [Rule]
    public let fallbackLabel: String
    /// Drafts by task.
    public let templates: [String: String]
    public var capabilities: Set<ModelCapability> { [.text, .json] }
    private let expressions: [(Rule, NSRegularExpression)]

    /// Throws if a pattern is not a valid regular expression.
    public init(name: String = "rules", rules: [Rule], fallbackLabel: String = "other", templates: [String: String] = [:]) throws {
        self.name = name
        self.rules = rules
        self.fallbackLabel = fallbackLabel
        self.templates = templates
        expressions = try rules.map { rule in
            do {
                return (rule, try NSRegularExpression(pattern: rule.pattern, options: [.caseInsensitive]))
            } catch {
                throw BatonError(.invalidRequest, "rule \(rule.label): \(rule.pattern) is not a regular expression")
            }
        }
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let text = request.messages.last { $0.role == .user }?.content ?? ""
        let answer: String
        if let template = request.task.flatMap({ templates[$0] }) {
            answer = template.replacingOccurrences(of: "{{text}}", with: text)
        } else {
            let range = NSRange(text.startIndex..., in: text)
            let matched = expressions.first { $0.1.firstMatch(in: text, range: range) != nil }?.0
            let label = matched?.label ?? fallbackLabel
            answer = request.wantsJSON ? try Self.json(["label": label, "rule": matched?.pattern ?? "fallback"]) : label
        }
        return ChatResponse(text: answer, usage: TokenUsage(input: Self.words(in: request.messages.map(\.content).joined(separator: " ")), output: Self.words(in: answer)))
    }

    private static func words(in text: String) -> Int { text.split { $0.isWhitespace }.count }

    private static func json(_ object: [String: String]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
