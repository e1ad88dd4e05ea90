import Foundation
import Yams

/// Reads the files operations teams edit (approval policies, model routes): JSON, or
/// YAML when the name ends in `.yaml` or `.yml`, read as the JSON document it stands
/// for, so both forms have the same keys, checks and messages.
public enum ConfigurationFile {
    /// What is wrong with a file's text.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Whether `url` names a YAML file.
    public static func isYAML(_ url: URL) -> Bool { ["yaml", "yml"].contains(url.pathExtension.lowercased()) }

    /// What is wrong with `object`, at `place` in a file, if it has a key outside
    /// `allowed`: configuration files are read strictly, so a typo is an error rather
    /// than a setting silently ignored.
    public static func unknownKey(in object: [String: Any], allowed: Set<String>, at place: String) -> String? {
        guard let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) else { return nil }
        return "\(place) has an unknown key \"\(escapingControlCharacters(unknown))\" (known: \(allowed.sorted().joined(separator: ", ")))"
    }

    /// The JSON a YAML document stands for. Composed, not loaded: Yams's loader traps on
    /// a mapping key that is not text.
    public static func json(fromYAML data: Data) throws -> Data {
        let document: Node?
        do {
            document = try Yams.compose(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            throw Problem(message: "not valid YAML: \(oneLine(error))")
        }
        guard let document else { throw Problem(message: "the document is empty") }
        guard case .scalar = document else { return try JSONSerialization.data(withJSONObject: try jsonValue(of: document)) }
        throw Problem(message: "expected a mapping or a list, not a single value")
    }

    /// The JSON value a YAML node stands for: mappings with text keys, sequences, and
    /// scalars as numbers, booleans, null or text.
    private static func jsonValue(of node: Node) throws -> Any {
        switch node {
        case .mapping(let mapping):
            var object: [String: Any] = [:]
            for (key, value) in mapping {
                guard case .scalar(let name) = key else { throw Problem(message: "a mapping key must be text, not \(key)") }
                object[name.string] = try jsonValue(of: value)
            }
            return object
        case .sequence(let sequence):
            return try sequence.map(jsonValue(of:))
        case .scalar(let scalar):
            switch node.any {
            case let value as Bool: return value
            case let value as Int: return value
            case let value as Double where value.isFinite: return value
            case is NSNull: return NSNull()
            default: return scalar.string
            }
        case .alias:
            throw Problem(message: "YAML aliases are not supported")
        }
    }
}
