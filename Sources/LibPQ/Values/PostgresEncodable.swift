import Foundation

/// A Swift value that can be bound as a statement parameter.
///
/// Conform your own types by returning the ``PostgresBind`` of a value PostgreSQL
/// knows; most types delegate to `String`, `Int` or ``PostgresJSON``.
public protocol PostgresEncodable: Sendable {
    var postgresBind: PostgresBind { get }
}

extension String: PostgresEncodable {
    /// Sent as `unknown` so the server can cast it to the column's type (text, enum, …).
    public var postgresBind: PostgresBind { .text(self) }
}

extension Substring: PostgresEncodable {
    public var postgresBind: PostgresBind { .text(String(self)) }
}

extension Int: PostgresEncodable {
    public var postgresBind: PostgresBind { .binary(PostgresBind.bigEndianBytes(Int64(self)), type: .int8) }
}

extension Int64: PostgresEncodable {
    public var postgresBind: PostgresBind { .binary(PostgresBind.bigEndianBytes(self), type: .int8) }
}

extension Int32: PostgresEncodable {
    public var postgresBind: PostgresBind { .binary(PostgresBind.bigEndianBytes(self), type: .int4) }
}

extension Int16: PostgresEncodable {
    public var postgresBind: PostgresBind { .binary(PostgresBind.bigEndianBytes(self), type: .int2) }
}

extension Bool: PostgresEncodable {
    public var postgresBind: PostgresBind { .binary([self ? 1 : 0], type: .bool) }
}

extension Double: PostgresEncodable {
    public var postgresBind: PostgresBind { .binary(PostgresBind.bigEndianBytes(bitPattern), type: .float8) }
}

extension UUID: PostgresEncodable {
    public var postgresBind: PostgresBind {
        withUnsafeBytes(of: uuid) { .binary(Array($0), type: .uuid) }
    }
}

extension Date: PostgresEncodable {
    /// Sent as `timestamptz`, to the microsecond (PostgreSQL's resolution).
    public var postgresBind: PostgresBind {
        .binary(PostgresBind.bigEndianBytes(PostgresTimestamp.microseconds(since2000: self)), type: .timestamptz)
    }
}

extension Data: PostgresEncodable {
    /// Sent as `bytea`.
    public var postgresBind: PostgresBind { .binary(Array(self), type: .bytea) }
}

extension Decimal: PostgresEncodable {
    /// Sent as `numeric`, exactly.
    public var postgresBind: PostgresBind { .text(description, type: .numeric) }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresBind: PostgresBind {
        switch self {
        case .some(let value): value.postgresBind
        case .none: .null
        }
    }
}
