import ArgumentParser
import Baton

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print baton's version and the newest schema migration it carries."
    )

    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        let version: String
        let schemaVersion: Int
    }

    func run() throws {
        let report = Report(version: Baton.version, schemaVersion: try Migration.bundled().last?.version ?? 0)
        try output.report(report) {
            print("baton \(report.version) (schema \(report.schemaVersion))")
        }
    }
}
