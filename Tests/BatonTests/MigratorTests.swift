import Baton
import BatonTesting
import LibPQ
import Testing

@Suite("Migrations", .tags(.database))
struct MigratorTests {
    func ledger(_ connection: PostgresConnection) async throws -> [String] {
        try await connection.query("SELECT name || '@' || applied_at FROM baton.schema_migrations ORDER BY version")
            .map { try $0.decode(String.self, at: 0) }
    }

    @Test func theBundledSchemaIsCarriedByTheBinaryInVersionOrder() throws {
        let migrations = try Migration.bundled()
        #expect(migrations.first?.name == "0001_baton_schema.sql")
        #expect(migrations.map(\.version) == migrations.map(\.version).sorted())
        #expect(migrations.first?.sql.contains("CREATE SCHEMA IF NOT EXISTS baton") == true)
    }

    @Test func aMisnamedSchemaFileIsRefused() {
        let error = #expect(throws: BatonError.self) { try Migration(name: "add_runs.sql", sql: "SELECT 1") }
        #expect(error?.code == .invalidMigration)
        #expect(error?.message.contains("add_runs.sql") == true)
    }

    @Test func aSecondRunChangesNothing() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            let migrator = Migrator(migrations: try Migration.bundled())
            let first = try await migrator.migrate(connection)
            #expect(first.allSatisfy { $0.outcome == .applied })
            let before = try await ledger(connection)
            let second = try await migrator.migrate(connection)
            #expect(second.allSatisfy { $0.outcome == .alreadyApplied })
            #expect(try await ledger(connection) == before)
            let version = try await connection.query("SELECT version FROM baton.schema_version").scalar(Int.self)
            #expect(version == first.last?.version)
        }
    }

    @Test func anAppliedFileWhoseContentChangedIsRefused() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            let original = try Migration(name: "0001_orders.sql", sql: "CREATE TABLE orders (id int);")
            try await Migrator(migrations: [original]).migrate(connection)
            let edited = try Migration(name: "0001_orders.sql", sql: "CREATE TABLE orders (id bigint);")
            let added = try Migration(name: "0002_more.sql", sql: "CREATE TABLE more (id int);")
            let error = await #expect(throws: BatonError.self) {
                try await Migrator(migrations: [edited, added]).migrate(connection)
            }
            #expect(error?.code == .migrationConflict)
            #expect(error?.message.contains("0001_orders.sql was changed after it was applied") == true)
            let moreExists = try await connection.query("SELECT to_regclass('more') IS NOT NULL").scalar(Bool.self)
            #expect(!moreExists)
        }
    }

    @Test func aFailingMigrationIsRolledBackWhole() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            let good = try Migration(name: "0001_good.sql", sql: "CREATE TABLE good (id int);")
            let bad = try Migration(name: "0002_bad.sql", sql: "CREATE TABLE half (id int); SELEC oops;")
            let error = await #expect(throws: PostgresError.self) {
                try await Migrator(migrations: [good, bad]).migrate(connection)
            }
            #expect(error?.sqlState == .syntaxError)
            let state = try await connection.query("""
                SELECT to_regclass('good') IS NOT NULL, to_regclass('half') IS NOT NULL,
                       (SELECT count(*) FROM baton.schema_migrations)
                """)[0]
            #expect(try state.decode(Bool.self, at: 0))
            #expect(try !state.decode(Bool.self, at: 1))
            #expect(try state.decode(Int.self, at: 2) == 1)
        }
    }

    @Test func upgradingKeepsEveryStepOutputWithItsVisitInTheJournal() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            let bundled = try Migration.bundled()
            try await Migrator(migrations: bundled.filter { $0.version <= 8 }).migrate(connection)
            // A run as the schema before 0009 stored it: step a completed in visit 1, then
            // step b failed once and completed in visit 2, and step a again in visit 3.
            try await connection.runScript("""
                INSERT INTO baton.runs (id, workflow, version, state, status, visit, context, seq)
                VALUES ('00000000-0000-0000-0000-000000000001', 'w', 1, 'three', 'runnable', 3, '{}', 7);
                INSERT INTO baton.journal (run_id, seq, kind, state_from, state_to, step_name, attempt, payload) VALUES
                    ('00000000-0000-0000-0000-000000000001', 1, 'run-started', NULL, 'one', NULL, NULL, '{}'),
                    ('00000000-0000-0000-0000-000000000001', 2, 'step-completed', NULL, NULL, 'a', 1, '"first"'),
                    ('00000000-0000-0000-0000-000000000001', 3, 'transition', 'one', 'two', NULL, NULL, '{}'),
                    ('00000000-0000-0000-0000-000000000001', 4, 'step-failed', NULL, NULL, 'b', 1, NULL),
                    ('00000000-0000-0000-0000-000000000001', 5, 'step-completed', NULL, NULL, 'b', 2, '"second"'),
                    ('00000000-0000-0000-0000-000000000001', 6, 'transition', 'two', 'three', NULL, NULL, '{}'),
                    ('00000000-0000-0000-0000-000000000001', 7, 'step-completed', NULL, NULL, 'a', 1, '"third"');
                INSERT INTO baton.step_outputs (run_id, visit, step_name, output, attempts) VALUES
                    ('00000000-0000-0000-0000-000000000001', 1, 'a', '"first"', 1),
                    ('00000000-0000-0000-0000-000000000001', 2, 'b', '"second"', 2),
                    ('00000000-0000-0000-0000-000000000001', 3, 'a', '"third"', 1);
                """)
            try await Migrator(migrations: bundled).migrate(connection)
            let outputs = try await connection.query("""
                SELECT visit || ' ' || step_name || ' ' || output::text || ' ' || attempts FROM baton.step_outputs ORDER BY visit
                """).map { try $0.decode(String.self, at: 0) }
            #expect(outputs == [#"1 a "first" 1"#, #"2 b "second" 2"#, #"3 a "third" 1"#])
            let visits = try await connection.query("SELECT coalesce(visit::text, '-') FROM baton.journal ORDER BY seq")
                .map { try $0.decode(String.self, at: 0) }
            #expect(visits == ["-", "1", "-", "2", "2", "-", "3"])
            // The journal is append-only again once the migration is done.
            await #expect(throws: PostgresError.self) { try await connection.query("UPDATE baton.journal SET visit = 1") }
        }
    }

    @Test func aDatabaseNewerThanThisBinaryIsRefused() async throws {
        try await TestDatabase.withFreshConnection { connection, _ in
            let first = try Migration(name: "0001_a.sql", sql: "SELECT 1;")
            let second = try Migration(name: "0002_b.sql", sql: "SELECT 2;")
            try await Migrator(migrations: [first, second]).migrate(connection)
            let error = await #expect(throws: BatonError.self) { try await Migrator(migrations: [first]).migrate(connection) }
            #expect(error?.message.contains("0002_b.sql") == true)
            #expect(error?.message.contains("newer baton") == true)
        }
    }

    @Test(.tags(.process))
    func severalProcessesMigratingAtOnceApplyEachFileOnce() async throws {
        try await TestDatabase.withFreshConnection { connection, configuration in
            let processes = (0..<4).map { _ in
                BatonProcess(["migrate", "--json"], environment: ["BATON_DATABASE_URL": configuration.connectionString])
            }
            let results = try await withThrowingTaskGroup(of: BatonProcess.Result.self) { group in
                for process in processes { group.addTask { try await process.run() } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for result in results {
                #expect(result.status == 0, "baton migrate failed: \(result.standardError)")
            }
            // Exactly one process applied each file; the others found it done.
            let appliedCounts = results.map { $0.standardOutput.components(separatedBy: "\"applied\"").count - 1 }
            #expect(appliedCounts.reduce(0, +) == (try Migration.bundled().count))
            let rows = try await connection.query("SELECT count(*) FROM baton.schema_migrations").scalar(Int.self)
            #expect(rows == (try Migration.bundled().count))
        }
    }
}
