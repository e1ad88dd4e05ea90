/// Why a workflow definition was refused at registration. The message names the
/// workflow (with its version) and the state at fault.
public struct DefinitionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String

        private init(_ description: String) {
            self.description = description
        }

        /// The workflow's name is empty or not a slug, or its version is below 1.
        public static let invalidIdentity = Code("invalid identity")
        /// Two declarations for one state, or one event named twice in a wait.
        public static let duplicate = Code("duplicate")
        /// A state of the `State` enum that the definition does not declare.
        public static let undeclaredState = Code("undeclared state")
        /// A transition to a state the definition does not declare.
        public static let unknownTarget = Code("unknown target")
        /// A declared state no run can ever enter.
        public static let unreachableState = Code("unreachable state")
        /// No terminal state can be reached from the initial state.
        public static let noReachableTerminal = Code("no reachable terminal")
        /// A timeout or sleep that is not positive, an action or wait with nowhere to go.
        public static let invalidState = Code("invalid state")
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
