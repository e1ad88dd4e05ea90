import CLibPQ
import Foundation
import Synchronization

/// One connection to PostgreSQL.
///
/// An actor whose work runs on a thread of its own (see ``ThreadExecutor``), so libpq
/// may block while it waits on the network without stalling Swift's cooperative pool.
/// Statements run one at a time, in the order they are awaited.
///
/// ```swift
/// let connection = try await PostgresConnection.connect(to: configuration)
/// let rows = try await connection.query("SELECT id, name FROM customers WHERE id = \(id)")
/// for row in rows { print(try row.decode(String.self, column: "name")) }
/// ```
public actor PostgresConnection {
    private let executor: ThreadExecutor
    private var handle: OpaquePointer?
    private var savepointCounter = 0
    /// Statements prepared on this connection, by text and parameter types.
    private var preparedStatements: [PreparedStatementKey: String] = [:]
    /// Where this connection goes, for errors and logs.
    public nonisolated let configuration: PostgresConfiguration

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// This connection's thread as a task executor. Code that runs under
    /// `withTaskExecutorPreference(connection.taskExecutor) { … }` runs on that thread,
    /// so its statements need no thread switch. ``PostgresPool/withConnection(_:)``
    /// does this for you.
    public nonisolated var taskExecutor: any TaskExecutor { executor }

    private init(configuration: PostgresConfiguration) {
        self.configuration = configuration
        executor = ThreadExecutor(name: "postgres \(configuration.database ?? "")")
    }

    isolated deinit {
        if let handle { PQfinish(handle) }
        executor.shutdown()
    }

    /// Opens a connection, with the session settings results are decoded with
    /// (UTF-8, ISO dates in UTC, floats to full precision).
    public static func connect(to configuration: PostgresConfiguration) async throws -> PostgresConnection {
        let connection = PostgresConnection(configuration: configuration)
        try await connection.open()
        return connection
    }

    private func open() throws {
        // `dbname` first so libpq expands the URL or key=value string; later keywords override it.
        let handle = withCStrings([
            ("dbname", configuration.connectionString),
            ("client_encoding", "UTF8"),
        ]) { keywords, values in
            PQconnectdbParams(keywords, values, 1)
        }
        guard let handle else {
            throw PostgresError(code: .connectionFailed, message: "could not connect to \(configuration): out of memory")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let reason = String(cString: PQerrorMessage(handle)).trimmingTrailingWhitespace()
            PQfinish(handle)
            throw PostgresError(code: .connectionFailed, message: "could not connect to \(configuration): \(reason)")
        }
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        self.handle = handle
        try runScript("SET DateStyle = 'ISO'; SET TimeZone = 'UTC'; SET extra_float_digits = 3")
    }

    /// Closes the connection; later statements fail with ``PostgresError/Code-swift.struct/connectionLost``.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// Statements sent to PostgreSQL by every connection of this process so far (a
    /// script counts once, a pipeline once per statement): for benchmarks and metrics.
    public static var statementsSent: Int { sentStatements.load(ordering: .relaxed) }
    static let sentStatements = Atomic<Int>(0)

    /// Runs one statement and returns its rows.
    ///
    /// With `prepared`, the statement is prepared on this connection the first time
    /// and reused after, so the server parses and plans it once per connection rather
    /// than at every run (for a statement with several CTEs, planning can cost more
    /// than executing). Use it for the fixed statements an application runs over and
    /// over: each distinct text (and set of parameter types) is kept until the
    /// connection closes.
    @discardableResult
    public func query(_ query: PostgresQuery, prepared: Bool = false) throws -> PostgresRows {
        let handle = try liveHandle(for: query.sql)
        Self.sentStatements.add(1, ordering: .relaxed)
        let result = try BoundParameters.with(query) { parameters in
            guard prepared else {
                return PQexecParams(
                    handle, query.sql, parameters.count, parameters.types, parameters.values,
                    parameters.lengths, parameters.formats, 0
                )
            }
            return PQexecPrepared(
                handle, try statementName(for: query, parameters, on: handle), parameters.count, parameters.values,
                parameters.lengths, parameters.formats, 0
            )
        }
        return try rows(from: result, query: query.sql)
    }

    /// The name `query` is prepared under on this connection, preparing it first if
    /// it is new. Parameter types are part of the key: an untyped NULL lets the server
    /// infer a type that a later typed value might not fit.
    private func statementName(for query: PostgresQuery, _ parameters: BoundParameters, on handle: OpaquePointer) throws -> String {
        let key = PreparedStatementKey(sql: query.sql, types: query.binds.map(\.type.rawValue))
        if let name = preparedStatements[key] { return name }
        let name = "prepared_\(preparedStatements.count + 1)"
        _ = try rows(from: PQprepare(handle, name, query.sql, parameters.count, parameters.types), query: query.sql)
        preparedStatements[key] = name
        return name
    }

    /// Runs SQL text that may hold several statements, with no parameters: for
    /// migration files and fixed session settings, never for SQL built from input.
    public func runScript(_ sql: String) throws {
        let handle = try liveHandle(for: sql)
        Self.sentStatements.add(1, ordering: .relaxed)
        // PQexec returns the last statement's result; a failing statement stops the script.
        _ = try rows(from: PQexec(handle, sql), query: sql)
    }

    /// Whether the connection can take a statement now: still open, not inside a
    /// transaction, and not closed by the server while it sat idle (a restart or
    /// `pg_terminate_backend` leaves an error message and EOF on the socket).
    public func isReadyForUse() -> Bool {
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return false }
        // A closed backend leaves its last message, then EOF: read until the socket
        // has nothing more, so the EOF is seen too. An idle, healthy socket has nothing.
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        while PQstatus(handle) == CONNECTION_OK, poll(&descriptor, 1, 0) > 0 {
            guard PQconsumeInput(handle) == 1 else { break }
            while let notification = PQnotifies(handle) { PQfreemem(notification) }
        }
        return PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE
    }

    /// The server process serving this connection (`pg_backend_pid()`), or 0 when closed.
    public func backendPID() -> Int32 {
        handle.map { PQbackendPID($0) } ?? 0
    }

    func liveHandle(for sql: String?) throws -> OpaquePointer {
        guard let handle, PQstatus(handle) == CONNECTION_OK else {
            throw PostgresError(code: .connectionLost, message: "the connection to \(configuration) is closed", query: sql)
        }
        return handle
    }

    /// Turns a libpq result into rows or an error, and frees it.
    func rows(from result: OpaquePointer?, query sql: String) throws -> PostgresRows {
        guard let result else {
            throw connectionError(query: sql)
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresRows(copying: result)
        case PGRES_FATAL_ERROR where PQresultErrorField(result, Int32(UInt8(ascii: "C"))) == nil:
            throw connectionError(query: sql)
        default:
            throw PostgresError(serverResult: result, query: sql)
        }
    }

    func connectionError(query sql: String?) -> PostgresError {
        let reason = handle.map { String(cString: PQerrorMessage($0)).trimmingTrailingWhitespace() } ?? "closed"
        let lost = handle.map { PQstatus($0) != CONNECTION_OK } ?? true
        return PostgresError(
            code: lost ? .connectionLost : .protocolViolation,
            message: "\(lost ? "lost the connection to" : "unexpected reply from") \(configuration): \(reason)",
            query: sql
        )
    }

    func nextSavepointName() -> String {
        savepointCounter += 1
        return "baton_savepoint_\(savepointCounter)"
    }
}

extension PostgresError {
    /// The error a server result carries, with its diagnostic fields.
    init(serverResult result: OpaquePointer, query: String?) {
        func field(_ code: Character) -> String? {
            PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) }
        }
        self.init(
            code: .server,
            message: field("M") ?? String(cString: PQresultErrorMessage(result)).trimmingTrailingWhitespace(),
            sqlState: field("C").map(SQLState.init(rawValue:)),
            query: query
        )
        detail = field("D")
        hint = field("H")
        constraintName = field("n")
        tableName = field("t")
        columnName = field("c")
    }
}

extension PostgresRows {
    /// Copies every value out of a libpq result.
    init(copying result: OpaquePointer) {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let commandTag = String(cString: PQcmdStatus(result))
        let affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
        guard columnCount > 0 else {
            // INSERT, UPDATE, DDL…: nothing to copy but the tag (the hot path of writes).
            self.init(columns: [], commandTag: commandTag, affectedRows: affectedRows, storage: [], cells: [])
            return
        }
        let columns = (0..<columnCount).map { column in
            Column(
                name: String(cString: PQfname(result, Int32(column))),
                type: PostgresType(rawValue: PQftype(result, Int32(column)))
            )
        }
        var storage: [UInt8] = []
        var cells: [Range<Int>?] = []
        cells.reserveCapacity(rowCount * columnCount)
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) == 1 {
                    cells.append(nil)
                    continue
                }
                let length = Int(PQgetlength(result, row, column))
                let start = storage.count
                PQgetvalue(result, row, column).withMemoryRebound(to: UInt8.self, capacity: length) {
                    storage.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
                cells.append(start..<start + length)
            }
        }
        self.init(columns: columns, commandTag: commandTag, affectedRows: affectedRows, storage: storage, cells: cells)
    }
}

/// Calls `body` with NULL-terminated C arrays of the keywords and values.
private func withCStrings<Result>(
    _ pairs: [(keyword: String, value: String)],
    _ body: (UnsafePointer<UnsafePointer<CChar>?>, UnsafePointer<UnsafePointer<CChar>?>) -> Result
) -> Result {
    let keywords = pairs.map { UnsafePointer(strdup($0.keyword)) } + [nil]
    let values = pairs.map { UnsafePointer(strdup($0.value)) } + [nil]
    defer {
        for pointer in keywords + values { free(UnsafeMutablePointer(mutating: pointer)) }
    }
    return body(keywords, values)
}

/// What tells prepared statements apart: their text and their parameters' types.
private struct PreparedStatementKey: Hashable {
    let sql: String
    let types: [UInt32]

    /// Hashes the text's length and its two ends, not all of it: a statement is looked
    /// up at every execution, and hashing a 3 KB statement whole was about 1% of a
    /// worker's CPU. Statements that share both ends only cost a comparison more.
    func hash(into hasher: inout Hasher) {
        var sql = sql
        sql.withUTF8 { utf8 in
            hasher.combine(utf8.count)
            hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8.prefix(Self.hashedEnd))))
            hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8.suffix(Self.hashedEnd))))
        }
        hasher.combine(types)
    }

    private static let hashedEnd = 64
}
