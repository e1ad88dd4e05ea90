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

/// JSON text kept as text, which an encoded document holds as the value it spells (see
/// ``RawJSON``) and which reads back from one as JSON text with sorted keys. On an
/// optional property of a `Codable` type, the synthesized conformance leaves the key out
/// when there is no text, as it does for an optional.
@propertyWrapper
public struct JSONText: Codable, Sendable, Hashable {
    public var wrappedValue: String?

    public init(wrappedValue: String?) {
        self.wrappedValue = wrappedValue
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard !container.decodeNil() else {
            wrappedValue = nil
            return
        }
        wrappedValue = try RunStore.encode(try container.decode(JSONValue.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(RawJSON(wrappedValue)) } else { try container.encodeNil() }
    }
}

extension KeyedEncodingContainer {
    /// Leaves the key out when there is no text (synthesized conformances call this).
    public mutating func encode(_ value: JSONText, forKey key: Key) throws {
        try encodeIfPresent(value.wrappedValue.map(RawJSON.init), forKey: key)
    }
}

extension KeyedDecodingContainer {
    /// Reads a missing key as no text (synthesized conformances call this).
    public func decode(_ type: JSONText.Type, forKey key: Key) throws -> JSONText {
        try decodeIfPresent(type, forKey: key) ?? JSONText(wrappedValue: nil)
    }
}
