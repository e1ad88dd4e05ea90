import Foundation

/// A Swift type that a result value decodes into.
///
/// Results arrive in PostgreSQL's text format; `init(postgresCell:)` reads a
/// non-`NULL` cell. A `NULL` decodes only into an `Optional`.
public protocol PostgresDecodable: Sendable {
    /// Decodes a non-`NULL` cell; throws ``PostgresError/Code-swift.struct/decoding`` if it can't.
    init(postgresCell cell: PostgresCell) throws
    /// The value for SQL `NULL`; throws for every type but `Optional`.
    static func decodeNull(_ cell: PostgresCell) throws -> Self
}

extension PostgresDecodable {
    public static func decodeNull(_ cell: PostgresCell) throws -> Self {
        throw cell.decodingError(Self.self, reason: "the value is NULL; decode an Optional")
    }
}

extension PostgresCell {
    /// Decodes the cell, `NULL` included.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        bytes == nil ? try T.decodeNull(self) : try T(postgresCell: self)
    }

    /// The non-`NULL` bytes, checked against the types the caller accepts.
    func bytes(accepting types: [PostgresType], for swiftType: Any.Type) throws -> ArraySlice<UInt8> {
        guard types.contains(type) else { throw decodingError(swiftType) }
        return bytes ?? []
    }

    /// The non-`NULL` text, checked against the types the caller accepts.
    func text(accepting types: [PostgresType], for swiftType: Any.Type) throws -> String {
        String(decoding: try bytes(accepting: types, for: swiftType), as: UTF8.self)
    }
}

// The types each Swift type decodes from, made once: a set literal at every decode
// built and hashed a new set, most of the cost of decoding a cell. Lists, as a few
// comparisons cost less than hashing the cell's type.
private let integerTypes: [PostgresType] = [.int2, .int4, .int8, .oid, .numeric]
private let numberTypes = integerTypes + [.float4, .float8]
private let booleanTypes: [PostgresType] = [.bool]
private let uuidTypes: [PostgresType] = [.uuid, .text, .varchar]
private let timeTypes: [PostgresType] = [.timestamptz, .timestamp, .date]

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public init(postgresCell cell: PostgresCell) throws {
        self = .some(try Wrapped(postgresCell: cell))
    }

    public static func decodeNull(_ cell: PostgresCell) throws -> Self { nil }
}

extension String: PostgresDecodable {
    /// Any value decodes as its text representation.
    public init(postgresCell cell: PostgresCell) throws {
        self = cell.text ?? ""
    }
}

extension Int: PostgresDecodable {
    public init(postgresCell cell: PostgresCell) throws {
        guard let value = Int(try cell.text(accepting: integerTypes, for: Int.self)) else {
            throw cell.decodingError(Int.self, reason: "\"\(cell.text ?? "")\" is not an integer in range")
        }
        self = value
    }
}

extension Int64: PostgresDecodable {
    public init(postgresCell cell: PostgresCell) throws {
        self = Int64(try Int(postgresCell: cell))
    }
}

extension Int32: PostgresDecodable {
    public init(postgresCell cell: PostgresCell) throws {
        guard let value = Int32(exactly: try Int(postgresCell: cell)) else {
            throw cell.decodingError(Int32.self, reason: "out of range")
        }
        self = value
    }
}

extension Int16: PostgresDecodable {
    public init(postgresCell cell: PostgresCell) throws {
        guard let value = Int16(exactly: try Int(postgresCell: cell)) else {
            throw cell.decodingError(Int16.self, reason: "out of range")
        }
        self = value
    }
}

extension Bool: PostgresDecodable {
    public init(postgresCell cell: PostgresCell) throws {
        switch try cell.text(accepting: booleanTypes, for: Bool.self) {
        case "t": self = true
        case "f": self = false
        case let other: throw cell.decodingError(Bool.self, reason: "unexpected \"\(other)\"")
        }
    }
}

extension Double: PostgresDecodable {
    public init(postgresCell cell: PostgresCell) throws {
        let text = try cell.text(accepting: numberTypes, for: Double.self)
        switch text {
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        case "NaN": self = .nan
        default:
            guard let value = Double(text) else {
                throw cell.decodingError(Double.self, reason: "\"\(text)\" is not a number")
            }
            self = value
        }
    }
}

extension Decimal: PostgresDecodable {
    public init(postgresCell cell: PostgresCell) throws {
        let text = try cell.text(accepting: numberTypes, for: Decimal.self)
        guard let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else {
            throw cell.decodingError(Decimal.self, reason: "\"\(text)\" is not a decimal number")
        }
        self = value
    }
}

extension UUID: PostgresDecodable {
    public init(postgresCell cell: PostgresCell) throws {
        guard let value = UUID(canonicalUTF8: try cell.bytes(accepting: uuidTypes, for: UUID.self)) else {
            throw cell.decodingError(UUID.self, reason: "\"\(cell.text ?? "")\" is not a UUID")
        }
        self = value
    }
}

extension Date: PostgresDecodable {
    public init(postgresCell cell: PostgresCell) throws {
        let text = try cell.text(accepting: timeTypes, for: Date.self)
        guard let value = PostgresTimestamp.parse(text[...]) else {
            throw cell.decodingError(Date.self, reason: "\"\(text)\" is not a timestamp Baton can read")
        }
        self = value
    }
}

extension Data: PostgresDecodable {
    /// Reads `bytea` in the `hex` output format (the server's default since 9.0).
    public init(postgresCell cell: PostgresCell) throws {
        guard cell.type == .bytea, let bytes = cell.bytes else { throw cell.decodingError(Data.self) }
        guard bytes.count >= 2, bytes.count % 2 == 0,
              bytes[bytes.startIndex] == UInt8(ascii: "\\"), bytes[bytes.startIndex + 1] == UInt8(ascii: "x")
        else { throw cell.decodingError(Data.self, reason: "expected bytea hex output") }
        var data = Data(capacity: (bytes.count - 2) / 2)
        var index = bytes.startIndex + 2
        while index < bytes.endIndex {
            guard let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else {
                throw cell.decodingError(Data.self, reason: "invalid hex digit")
            }
            data.append(high << 4 | low)
            index += 2
        }
        self = data
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
