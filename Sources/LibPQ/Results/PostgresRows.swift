/// The rows a statement returned, with its command tag.
///
/// All values are copied out of libpq when the result arrives, so rows are plain
/// values that can cross tasks and outlive the connection.
public struct PostgresRows: Sendable, RandomAccessCollection {
    /// A result column: its name and type.
    public struct Column: Sendable, Hashable {
        public let name: String
        public let type: PostgresType
    }

    public let columns: [Column]
    /// The command tag, for example `INSERT 0 1`.
    public let commandTag: String
    /// Rows inserted, updated, deleted, selected…, as the command tag reports them.
    public let affectedRows: Int

    /// Every value's bytes, one after another.
    let storage: [UInt8]
    /// For each cell (row-major), its range in `storage`, or `nil` for `NULL`.
    let cells: [Range<Int>?]

    init(columns: [Column], commandTag: String, affectedRows: Int, storage: [UInt8], cells: [Range<Int>?]) {
        self.columns = columns
        self.commandTag = commandTag
        self.affectedRows = affectedRows
        self.storage = storage
        self.cells = cells
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.isEmpty ? 0 : cells.count / columns.count }

    public subscript(position: Int) -> PostgresRow {
        PostgresRow(rows: self, index: position)
    }

    /// The first column of the only row, decoded: for `SELECT count(*) …` and friends.
    public func scalar<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        guard let row = first else {
            throw PostgresError(code: .decoding, message: "expected one row, the statement returned none")
        }
        return try row.decode(T.self, at: 0)
    }

    func cell(row: Int, column: Int) -> PostgresCell {
        let range = cells[row * columns.count + column]
        return PostgresCell(
            columnName: columns[column].name,
            type: columns[column].type,
            bytes: range.map { storage[$0] }
        )
    }
}

/// One row of ``PostgresRows``.
public struct PostgresRow: Sendable {
    let rows: PostgresRows
    let index: Int

    /// The cell at a column position (0-based).
    public subscript(column: Int) -> PostgresCell {
        rows.cell(row: index, column: column)
    }

    /// Decodes the value at a column position (0-based).
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, at column: Int) throws -> T {
        guard rows.columns.indices.contains(column) else {
            throw PostgresError(code: .decoding, message: "no column at position \(column); the row has \(rows.columns.count)")
        }
        return try self[column].decode(T.self)
    }

    /// Decodes the value of the column with this name.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, column name: String) throws -> T {
        guard let column = rows.columns.firstIndex(where: { $0.name == name }) else {
            throw PostgresError(code: .decoding, message: "no column named \"\(name)\" in the result")
        }
        return try self[column].decode(T.self)
    }
}
