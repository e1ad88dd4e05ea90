import Baton
import BatonTesting
import Foundation
import Testing

@Suite("The baton command line", .tags(.process))
struct CommandLineTests {
    @Test func aUsageErrorExitsWithStatus2() async throws {
        for arguments in [["frobnicate"], ["migrate", "--bogus"], ["db", "explode"]] {
            let result = try await BatonProcess(arguments).run()
            #expect(result.status == 2, "baton \(arguments) exited \(result.status)")
            #expect(result.standardError.contains("Usage") || result.standardError.contains("Error"))
        }
    }

    @Test func aWorkerRefusesAStopGraceThatIsNotASensibleNumberOfSeconds() async throws {
        for grace in ["-1", "1e300", "nan", "soon"] {
            let result = try await BatonProcess(["worker", "--stop-grace-seconds=\(grace)"]).run()
            #expect(result.status == 2, "--stop-grace-seconds \(grace) exited \(result.status)")
            #expect(result.standardError.hasPrefix("Error: ") && result.standardError.contains("--stop-grace-seconds"), "\(result.standardError)")
        }
    }

    @Test func aWorkerRefusesToClaimANegativeOrNonNumericCountAhead() async throws {
        for ahead in ["-1", "many"] {
            let result = try await BatonProcess(["worker", "--claim-ahead=\(ahead)"]).run()
            #expect(result.status == 2, "--claim-ahead \(ahead) exited \(result.status)")
            #expect(result.standardError.hasPrefix("Error: ") && result.standardError.contains("--claim-ahead"), "\(result.standardError)")
        }
    }

    @Test func helpExitsWithStatus0AndListsTheCommands() async throws {
        let result = try await BatonProcess(["--help"]).run()
        #expect(result.status == 0)
        for command in ["migrate", "db", "version"] {
            #expect(result.standardOutput.contains(command))
        }
    }

    @Test func startsHelpNamesEachOptionOnce() async throws {
        let result = try await BatonProcess(["start", "--help"]).run()
        #expect(result.status == 0)
        let options = result.standardOutput.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first.flatMap { $0.hasPrefix("--") ? String($0) : nil }
        }
        #expect(options.contains("--workflow-version"))
        #expect(options.count == Set(options).count, "\(options)")
    }

    @Test func anUnreachableDatabaseIsOneClearLineWithoutThePassword() async throws {
        let result = try await BatonProcess(
            ["migrate", "--json"],
            environment: ["BATON_DATABASE_URL": "postgresql://app:hunter2-secret@127.0.0.1:1/orders"]
        ).run()
        #expect(result.status == 1)
        #expect(result.standardOutput.isEmpty)
        #expect(result.standardError.hasPrefix("baton: could not connect to database \"orders\" at 127.0.0.1:1"))
        #expect(result.standardError.split(separator: "\n").count == 1, "\(result.standardError)")
        #expect(!result.standardError.contains("hunter2-secret"))
    }

    @Test func versionPrintsCleanJSONForScripts() async throws {
        let result = try await BatonProcess(["version", "--json"]).run()
        #expect(result.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        #expect(report?["version"] as? String == "0.1.0")
        #expect((report?["schemaVersion"] as? Int ?? 0) >= 1)
    }
}

/// Another program run to completion, for checks that need a real client (psql).
enum Program {
    struct Result: Sendable {
        let status: Int32
        let output: String
    }

    static func run(_ executable: String, _ arguments: [String]) async throws -> Result {
        let capture = FileManager.default.temporaryDirectory.appending(path: "program-\(UUID().uuidString)").path
        defer { unlink(capture) }
        let child = try ChildProcess.spawn(executable, arguments, standardOutput: capture, standardError: capture)
        let status = await child.exitStatus()
        return Result(status: status, output: (try? String(contentsOfFile: capture, encoding: .utf8)) ?? "")
    }
}
