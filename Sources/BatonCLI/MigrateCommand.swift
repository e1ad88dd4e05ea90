import ArgumentParser
import Baton
import LibPQ

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Bring the database's schema up to date.",
        discussion: """
            Applies the schema/ migrations this binary carries, each once and in order, \
            each in its own transaction. Safe to run again, and from several processes at once.
            """
    )

    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        let database: String
        let schemaVersion: Int
        let migrations: [Migrator.Step]
    }

    func run() async throws {
        let database = try await BatonConfiguration.fromEnvironment().resolveDatabase()
        output.progress("Migrating \(database)")
        let connection = try await PostgresConnection.connect(to: database)
        let steps = try await Migrator(migrations: try Migration.bundled()).migrate(connection) { migration, step in
            switch step?.outcome {
            case nil: output.progress("  applying \(migration.name) …")
            case .applied: output.progress("  applied  \(migration.name) in \(Int(step!.milliseconds.rounded())) ms")
            case .alreadyApplied: break
            }
        }
        await connection.close()
        let applied = steps.filter { $0.outcome == .applied }.count
        let report = Report(database: database.description, schemaVersion: steps.last?.version ?? 0, migrations: steps)
        try output.report(report) {
            print(applied == 0
                ? "Schema is up to date at version \(report.schemaVersion)."
                : "Applied \(applied) migration\(applied == 1 ? "" : "s"); schema is at version \(report.schemaVersion).")
        }
    }
}
