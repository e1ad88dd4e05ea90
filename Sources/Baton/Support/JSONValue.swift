import Foundation

/// Any JSON value, for passing documents through whose shape Baton does not know: tool
/// schemas and arguments, a run's context in a report.
public enum JSONValue: Codable, Sendable, Hashable {
    case null
    case bool(Bool)
    /// A whole number that fits 64 bits, kept exact (a `Double` would round it past 2^53).
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int64.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// JSON text that goes into an encoded document as the value it spells, not as a
/// string: `{"context": {"completed": 3}}`, not `{"context": "{\"completed\": 3}"}`.
public struct RawJSON: Encodable, Sendable {
    /// The JSON text, as given.
    public let text: String

    public init(_ text: String) { self.text = text }

    /// Throws if ``text`` is not JSON.
    public func encode(to encoder: any Encoder) throws {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)).encode(to: encoder)
    }
}

/// Whether `text` is one JSON value: an object, an array, a string, a number, a boolean or null.
func isJSON(_ text: String) -> Bool {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) != nil
}

extension KeyedEncodingContainer {
    /// Encodes JSON text as the value it spells (see ``RawJSON``); nothing when nil.
    mutating func encodeJSONIfPresent(_ text: String?, forKey key: Key) throws {
        try encodeIfPresent(text.map(RawJSON.init), forKey: key)
    }
}

extension KeyedDecodingContainer {
    /// Reads a value ``KeyedEncodingContainer/encodeJSONIfPresent(_:forKey:)`` wrote back
    /// as JSON text, with sorted keys; nil when it is absent or null.
    func decodeJSONIfPresent(forKey key: Key) throws -> String? {
        guard let value = try decodeIfPresent(JSONValue.self, forKey: key) else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
