import ArgumentParser
import Baton
import Foundation
import LibPQ

struct DatabaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the embedded PostgreSQL cluster in .baton/postgres.",
        discussion: "The embedded cluster is used when BATON_DATABASE_URL is unset.",
        subcommands: [Status.self, Start.self, Stop.self, URLCommand.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Say whether the embedded cluster runs, and its schema version.")

        @OptionGroup var output: OutputOptions

        struct Report: Encodable {
            let state: EmbeddedDatabase.State
            let directory: String
            let url: String
            let schemaVersion: Int?
        }

        func run() async throws {
            let database = try BatonConfiguration.fromEnvironment().embeddedDatabase()
            let state = try database.state()
            var schemaVersion: Int?
            if state == .running {
                let connection = try await PostgresConnection.connect(to: try database.configuration)
                schemaVersion = try await Migrator(migrations: []).appliedMigrations(connection).last?.version ?? 0
                await connection.close()
            }
            let report = Report(state: state, directory: database.directory.path, url: database.url, schemaVersion: schemaVersion)
            try output.report(report) {
                switch state {
                case .running:
                    print("running in \(report.directory), schema version \(schemaVersion ?? 0)")
                    print("url: \(report.url)")
                case .stopped: print("stopped (\(report.directory)); start it with: baton db start")
                case .notCreated: print("not created yet (\(report.directory)); baton db start creates it")
                }
            }
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the embedded cluster if needed and start it.")

        @OptionGroup var output: OutputOptions

        func run() async throws {
            let database = try BatonConfiguration.fromEnvironment().embeddedDatabase()
            output.progress("Starting PostgreSQL in \(database.directory.path) …")
            let outcome = try await database.start()
            try output.report(["outcome": outcome.rawValue, "url": database.url]) {
                switch outcome {
                case .created: print("Created and started a new cluster in \(database.directory.path).")
                case .started: print("Started PostgreSQL in \(database.directory.path).")
                case .alreadyRunning: print("PostgreSQL is already running in \(database.directory.path).")
                }
            }
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the embedded cluster; its data stays.")

        func run() throws {
            let database = try BatonConfiguration.fromEnvironment().embeddedDatabase()
            try database.stop()
            print("PostgreSQL in \(database.directory.path) is stopped.")
        }
    }

    struct URLCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "url",
            abstract: "Print the embedded cluster's connection URL (psql accepts it)."
        )

        func run() throws {
            print(try BatonConfiguration.fromEnvironment().embeddedDatabase().url)
        }
    }
}
