/// What a chaos run found: one figure per line, and whether every figure that must be
/// zero is.
public struct ChaosReport: Sendable, Codable {
    public struct Figure: Sendable, Codable {
        public let name: String
        public let value: Int
        /// Whether anything but 0 is a failure.
        public let mustBeZero: Bool
    }

    public private(set) var figures: [Figure] = []

    public init() {}

    mutating func add(_ name: String, _ value: Int, mustBeZero: Bool = false) {
        figures.append(Figure(name: name, value: value, mustBeZero: mustBeZero))
    }

    /// The figures that must be zero and are not.
    public var failures: [Figure] { figures.filter { $0.mustBeZero && $0.value != 0 } }

    public var passed: Bool { failures.isEmpty }

    /// One line per figure, aligned, the must-be-zero ones marked.
    public var lines: [String] {
        let width = figures.map(\.name.count).max() ?? 0
        return figures.map { figure in
            let mark = figure.mustBeZero ? (figure.value == 0 ? "  (must be 0: ok)" : "  (must be 0: FAILED)") : ""
            return figure.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + String(figure.value) + mark
        }
    }
}
