/// A SQL statement with its bound parameters.
///
/// Interpolated values become parameters (`$1`, `$2`, …), never SQL text, so a value
/// can't change the statement:
/// ```swift
/// let name = "'); DROP TABLE orders; --"
/// try await connection.query("SELECT id FROM orders WHERE customer = \(name)")
/// // sends "SELECT id FROM orders WHERE customer = $1" with one bound value
/// ```
/// SQL text that is not a literal has to be spelled out: ``init(unsafeSQL:binds:)`` for
/// a whole statement, `\(unescaped: fragment)` for a constant fragment.
public struct PostgresQuery: Sendable, Hashable, ExpressibleByStringInterpolation {
    /// The statement text, with `$n` placeholders.
    public var sql: String
    /// The values for `$1`, `$2`, … in order.
    public var binds: [PostgresBind]

    /// A statement built from text that did not come from a string literal.
    /// Only for SQL that is not derived from input (schema files, generated identifiers).
    public init(unsafeSQL sql: String, binds: [PostgresBind] = []) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.init(unsafeSQL: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(unsafeSQL: stringInterpolation.sql, binds: stringInterpolation.binds)
    }

    /// Builds the statement text, turning each interpolated value into a parameter.
    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [PostgresBind] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            binds.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        /// Appends `$n` and binds `value` as parameter n.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value) {
            append(value.postgresBind)
        }

        /// Appends SQL text as it is, for constant fragments (a column list shared by
        /// several statements). Never for anything derived from input.
        public mutating func appendInterpolation(unescaped sql: String) {
            self.sql += sql
        }

        /// Appends `$n` and binds `value`, or SQL `NULL` when it is `nil`.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value?) {
            append(value.postgresBind)
        }

        /// Appends `$n` and binds `bind` as parameter n.
        mutating func append(_ bind: PostgresBind) {
            binds.append(bind)
            sql += "$\(binds.count)"
        }
    }
}
