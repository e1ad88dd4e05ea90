import LibPQ

/// Applies ``Migration``s to a database: each once, in order, each in a transaction,
/// recorded with a checksum in `baton.schema_migrations`.
///
/// Safe when several processes migrate at once: they take turns under an advisory
/// lock, and the later ones find the work done. A migration whose file changed after
/// it was applied is refused, as is a database that has migrations this binary lacks.
public struct Migrator: Sendable {
    /// What happened to one migration.
    public enum Outcome: String, Sendable, Codable {
        case applied
        case alreadyApplied = "already-applied"
    }

    /// One line of the report, and of the progress shown while migrating.
    public struct Step: Sendable, Codable {
        public let version: Int
        public let name: String
        public let outcome: Outcome
        public let milliseconds: Double
    }

    /// Key of the advisory lock migrations hold: the bytes of "batonmig" as an integer.
    static let advisoryLockKey: Int64 = 0x6261_746F_6E6D_6967

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Brings the database up to date. `progress` sees each migration as it is about
    /// to be applied (`nil` outcome) and again when done.
    @discardableResult
    public func migrate(
        _ connection: PostgresConnection,
        progress: (Migration, Step?) -> Void = { _, _ in }
    ) async throws -> [Step] {
        try await connection.query("SELECT pg_advisory_lock(\(Self.advisoryLockKey))")
        do {
            let steps = try await migrateHoldingLock(connection, progress: progress)
            try await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))")
            return steps
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))")
            throw error
        }
    }

    /// The applied versions with their file names, newest last.
    public func appliedMigrations(_ connection: PostgresConnection) async throws -> [(version: Int, name: String)] {
        let exists = try await connection.query("SELECT to_regclass('baton.schema_migrations') IS NOT NULL").scalar(Bool.self)
        guard exists else { return [] }
        return try await connection.query("SELECT version, name FROM baton.schema_migrations ORDER BY version")
            .map { (try $0.decode(Int.self, at: 0), try $0.decode(String.self, at: 1)) }
    }

    private func migrateHoldingLock(
        _ connection: PostgresConnection,
        progress: (Migration, Step?) -> Void
    ) async throws -> [Step] {
        try await connection.runScript("""
            CREATE SCHEMA IF NOT EXISTS baton;
            CREATE TABLE IF NOT EXISTS baton.schema_migrations (
                version     integer PRIMARY KEY CHECK (version > 0),
                name        text NOT NULL,
                checksum    text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now(),
                duration_ms double precision NOT NULL
            );
            COMMENT ON TABLE baton.schema_migrations IS
                'One row per schema/ file applied by baton migrate, with the SHA-256 of its text.';
            """)
        var applied: [Int: (name: String, checksum: String)] = [:]
        for row in try await connection.query("SELECT version, name, checksum FROM baton.schema_migrations") {
            applied[try row.decode(Int.self, at: 0)] = (try row.decode(String.self, at: 1), try row.decode(String.self, at: 2))
        }
        let known = Set(migrations.map(\.version))
        if let unknown = applied.keys.filter({ !known.contains($0) }).min() {
            throw BatonError(.migrationConflict, """
                the database has migration \(unknown) (\(applied[unknown]!.name)), which this baton does not carry: \
                run a newer baton
                """)
        }
        var steps: [Step] = []
        for migration in migrations {
            let checksum = try await connection
                .query("SELECT encode(sha256(convert_to(\(migration.sql), 'UTF8')), 'hex')")
                .scalar(String.self)
            if let recorded = applied[migration.version] {
                guard recorded.checksum == checksum else {
                    throw BatonError(.migrationConflict, """
                        migration \(migration.name) was changed after it was applied (checksum \
                        \(recorded.checksum.prefix(12)) in the database, \(checksum.prefix(12)) now); \
                        add a new migration instead of editing an applied one
                        """)
                }
                let step = Step(version: migration.version, name: migration.name, outcome: .alreadyApplied, milliseconds: 0)
                steps.append(step)
                progress(migration, step)
                continue
            }
            progress(migration, nil)
            let started = ContinuousClock.now
            try await connection.withTransaction { connection in
                try await connection.runScript(migration.sql)
                let elapsed = (ContinuousClock.now - started).milliseconds
                try await connection.query("""
                    INSERT INTO baton.schema_migrations (version, name, checksum, duration_ms)
                    VALUES (\(migration.version), \(migration.name), \(checksum), \(elapsed))
                    """)
            }
            let step = Step(
                version: migration.version, name: migration.name, outcome: .applied,
                milliseconds: (ContinuousClock.now - started).milliseconds
            )
            steps.append(step)
            progress(migration, step)
        }
        return steps
    }
}

extension Duration {
    /// The duration in milliseconds, with fractions.
    public var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
