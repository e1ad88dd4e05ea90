/// An error from the PostgreSQL client: a failed connection, a statement the server
/// refused, a value that could not be encoded or decoded, a closed pool.
///
/// The server's fields (SQLSTATE, detail, hint, constraint) are kept apart so callers
/// recognise errors by code, never by message text. ``description`` is safe to log: it
/// names the statement but never its bound values or a password. ``debugDescription``
/// adds the statement's text and where in Baton the error was raised.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong, broadly. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String

        private init(_ description: String) {
            self.description = description
        }

        /// The connection could not be opened.
        public static let connectionFailed = Code("connection failed")
        /// The connection broke while in use (server restart, `pg_terminate_backend`).
        public static let connectionLost = Code("connection lost")
        /// The server refused a statement; ``PostgresError/sqlState`` says why.
        public static let server = Code("server error")
        /// A bound value cannot be sent (for example text containing a NUL byte).
        public static let invalidParameter = Code("invalid parameter")
        /// A result value does not decode into the requested Swift type.
        public static let decoding = Code("decoding failed")
        /// A statement in a pipeline did not run because an earlier one failed.
        public static let pipelineAborted = Code("pipeline aborted")
        /// The pool was shut down.
        public static let poolClosed = Code("pool closed")
        /// The client and server disagree on the protocol (a bug or an unexpected result).
        public static let protocolViolation = Code("protocol violation")
    }

    public var code: Code
    /// The server's SQLSTATE, when the server sent the error.
    public var sqlState: SQLState?
    /// The primary message, from the server or from this client.
    public var message: String
    public var detail: String?
    public var hint: String?
    /// The violated constraint, for integrity errors.
    public var constraintName: String?
    public var tableName: String?
    public var columnName: String?
    /// The SQL text of the statement that failed, when there was one.
    public var query: String?
    public var file: String
    public var line: Int

    public init(
        code: Code,
        message: String,
        sqlState: SQLState? = nil,
        query: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.query = query
        self.file = file
        self.line = line
    }

    public var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail { text += ". Detail: \(detail)" }
        if let hint { text += ". Hint: \(hint)" }
        return text
    }

    public var debugDescription: String {
        var text = "PostgresError(\(code): \(description)"
        if let constraintName { text += ", constraint: \(constraintName)" }
        if let tableName { text += ", table: \(tableName)" }
        if let columnName { text += ", column: \(columnName)" }
        if let query { text += ", query: \(query)" }
        return text + ", at \(file):\(line))"
    }
}
