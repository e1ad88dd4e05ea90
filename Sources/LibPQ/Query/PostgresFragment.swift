/// A piece of a statement with values of its own, such as one row of a `VALUES` list,
/// for statements whose shape depends on a count. Interpolated into a
/// ``PostgresQuery``, its values become that statement's parameters, numbered where
/// they land:
/// ```swift
/// let rows: [PostgresFragment] = lines.map { "(\($0.sku), \($0.quantity))" }
/// try await connection.query("INSERT INTO order_lines (sku, quantity) VALUES \(rows, separator: ", ")")
/// // sends "… VALUES ($1, $2), ($3, $4)" for two lines
/// ```
public struct PostgresFragment: Sendable, Hashable, ExpressibleByStringInterpolation {
    enum Piece: Sendable, Hashable {
        case sql(String)
        case bind(PostgresBind)
    }

    var pieces: [Piece]

    public init(stringLiteral value: String) {
        pieces = [.sql(value)]
    }

    public init(stringInterpolation: StringInterpolation) {
        pieces = stringInterpolation.pieces
    }

    /// Keeps the fragment's text and its values apart until it lands in a statement.
    public struct StringInterpolation: StringInterpolationProtocol {
        var pieces: [Piece] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            pieces.reserveCapacity(interpolationCount * 2 + 1)
        }

        public mutating func appendLiteral(_ literal: String) {
            pieces.append(.sql(literal))
        }

        /// Binds `value` as a parameter of the statement the fragment lands in.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value) {
            pieces.append(.bind(value.postgresBind))
        }

        /// Binds `value`, or SQL `NULL` when it is `nil`.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value?) {
            pieces.append(.bind(value.postgresBind))
        }
    }
}

extension PostgresQuery.StringInterpolation {
    /// Appends `fragments` with `separator` (constant SQL text) between them; their
    /// values become parameters numbered on from this statement's.
    public mutating func appendInterpolation(_ fragments: [PostgresFragment], separator: String) {
        for (index, fragment) in fragments.enumerated() {
            if index > 0 { appendLiteral(separator) }
            for piece in fragment.pieces {
                switch piece {
                case .sql(let text): appendLiteral(text)
                case .bind(let bind): append(bind)
                }
            }
        }
    }
}
