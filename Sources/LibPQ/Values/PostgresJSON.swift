import Foundation

/// A `Codable` value stored as `jsonb`.
///
/// ```swift
/// try await connection.query("INSERT INTO orders (doc) VALUES (\(PostgresJSON(order)))")
/// let order = try row.decode(PostgresJSON<Order>.self, at: 0).value
/// ```
public struct PostgresJSON<Value: Codable & Sendable>: Sendable, PostgresEncodable, PostgresDecodable {
    public var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    /// Encoded with sorted keys, so equal values give equal text.
    public var postgresBind: PostgresBind {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return PostgresBind(type: .jsonb, format: .text, bytes: Array(try encoder.encode(value)))
        } catch {
            return .unencodable(reason: "\(Value.self) does not encode as JSON: \(error)")
        }
    }

    public init(postgresCell cell: PostgresCell) throws {
        guard [.json, .jsonb, .text].contains(cell.type), let bytes = cell.bytes else {
            throw cell.decodingError(Value.self)
        }
        do {
            value = try JSONDecoder().decode(Value.self, from: Data(bytes))
        } catch {
            throw cell.decodingError(Value.self, reason: "\(error)")
        }
    }
}
