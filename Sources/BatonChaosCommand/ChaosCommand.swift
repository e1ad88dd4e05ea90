import ArgumentParser
import BatonChaos
import Foundation

/// `baton-chaos`: runs the chaos harness (see ``ChaosHarness``) and prints one line
/// per figure; exits 1 if any figure that must be zero is not. Run by `ops/chaos`.
@main
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton-chaos",
        abstract: "Run real baton workers under injected faults and check that nothing is lost or run twice."
    )

    @Option(help: "The baton executable the workers run.")
    var baton: String

    @Option(help: "A folder for the private database, the workers' logs and the step log (kept afterwards).")
    var folder: String

    @Flag(help: "The small profile (about 15 s of faults), as ops/test runs it.")
    var small = false

    @Option(help: "Seconds of faults (default: the profile's).")
    var seconds: Int?

    @Flag(help: "Print one JSON document instead of lines.")
    var json = false

    func run() async throws {
        var profile = small ? ChaosProfile.small : ChaosProfile.full
        if let seconds { profile.faultSeconds = seconds }
        let quiet = json
        let harness = ChaosHarness(profile: profile, baton: URL(fileURLWithPath: baton), folder: URL(fileURLWithPath: folder)) { line in
            if !quiet { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        }
        let report = try await harness.run()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            report.lines.forEach { print($0) }
            print(report.passed ? "chaos: passed" : "chaos: FAILED (\(report.failures.map(\.name).joined(separator: ", ")))")
        }
        if !report.passed { throw ExitCode.failure }
    }
}
