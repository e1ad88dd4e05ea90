/// One numbered SQL file of `schema/`, applied once, in order, in its own transaction.
///
/// File names are `NNNN_what_it_adds.sql`; the number is the version. A file must not
/// contain `BEGIN`/`COMMIT` or statements that can't run in a transaction
/// (`CREATE INDEX CONCURRENTLY`).
public struct Migration: Sendable, Hashable {
    public let version: Int
    /// The file name, for example `0001_baton_schema.sql`.
    public let name: String
    public let sql: String

    /// Reads the version from `name`; throws if the name has no leading number.
    public init(name: String, sql: String) throws {
        guard let version = Int(name.prefix(while: \.isNumber)), name.hasSuffix(".sql") else {
            throw BatonError(.invalidMigration, "schema file \"\(name)\" is not named NNNN_description.sql")
        }
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// The migrations compiled into this binary from `schema/`, in version order.
    public static func bundled() throws -> [Migration] {
        let migrations = try embeddedSchemaFiles.map { try Migration(name: $0.name, sql: $0.sql) }
        var seen: [Int: String] = [:]
        for migration in migrations {
            if let other = seen.updateValue(migration.name, forKey: migration.version) {
                throw BatonError(.invalidMigration, "schema files \"\(other)\" and \"\(migration.name)\" share version \(migration.version)")
            }
        }
        return migrations.sorted { $0.version < $1.version }
    }
}
