/// One value of a result row, as the server sent it (text format).
public struct PostgresCell: Sendable {
    /// The column's name in the result.
    public let columnName: String
    /// The column's type.
    public let type: PostgresType
    /// The value's bytes, or `nil` for SQL `NULL`.
    public let bytes: ArraySlice<UInt8>?

    /// The value as text, or `nil` for SQL `NULL`.
    public var text: String? {
        bytes.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The error to throw when this cell does not decode into `swiftType`.
    public func decodingError(_ swiftType: Any.Type, reason: String? = nil) -> PostgresError {
        var message = "column \"\(columnName)\" (\(type)) does not decode as \(swiftType)"
        if let reason { message += ": \(reason)" }
        return PostgresError(code: .decoding, message: message)
    }
}
