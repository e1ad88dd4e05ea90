/// Why a model call failed. The router falls back to the next candidate on any of these.
public struct ModelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        private init(_ description: String) { self.description = description }

        /// The provider answered with an error status (after its retries).
        public static let httpStatus = Code("http status")
        /// No answer in time.
        public static let timeout = Code("timeout")
        /// The provider could not be reached.
        public static let unreachable = Code("unreachable")
        /// The model declined to answer.
        public static let refusal = Code("refusal")
        /// The answer was not in the provider's documented shape.
        public static let malformedResponse = Code("malformed response")
        /// A structured answer did not decode into the asked type, after the re-asks.
        public static let invalidStructuredOutput = Code("invalid structured output")
        /// The provider's circuit breaker is open: it failed too often just now.
        public static let circuitOpen = Code("circuit open")
        /// No model of the route has what the task needs.
        public static let noCandidate = Code("no candidate")
        /// Two models disagreed (one drafted, the other did not validate the draft).
        public static let disagreement = Code("disagreement")
        /// A model of your own threw an error of its own type.
        public static let other = Code("error")
    }

    public let code: Code
    public let model: String
    public let message: String
    /// The HTTP status, for ``Code/httpStatus``.
    public let status: Int?

    public init(_ code: Code, model: String, _ message: String, status: Int? = nil) {
        self.code = code
        self.model = model
        self.message = message
        self.status = status
    }

    public var description: String { "model \(model): \(code)\(status.map { " \($0)" } ?? ""): \(message)" }
}
