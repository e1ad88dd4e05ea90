import Baton
import BatonExamples
import BatonTesting
import Foundation
import LibPQ
import Testing

@Suite("Run commands: start, show, send, cancel, verify", .tags(.database, .process))
struct RunCommandTests {
    func baton(_ arguments: String..., on configuration: PostgresConfiguration) async throws -> BatonProcess.Result {
        try await BatonProcess(arguments, environment: ["BATON_DATABASE_URL": configuration.connectionString]).run()
    }

    func count(_ table: String, _ connection: PostgresConnection) async throws -> Int {
        // The table name is one of this test's constants.
        try await connection.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM baton.\(table)")).scalar(Int.self)
    }

    @Test func badInputGetsOneClearLineExitStatus1AndWritesNothing() async throws {
        try await TestDatabase.withFreshConnection { connection, configuration in
            try await Migrator(migrations: try Migration.bundled()).migrate(connection)
            let cases: [([String], String)] = [
                (["start", "no-such-flow"], "baton: no workflow no-such-flow here (known: customer-notice v1, order-delay v1, ten-steps v1)"),
                (["start", "ten-steps", "--workflow-version", "9"], "baton: no workflow ten-steps v9 here (known: customer-notice v1, order-delay v1, ten-steps v1)"),
                (["start", "ten-steps", "--input", "{not json"], "baton: --input is not valid JSON: {not json"),
                (["start", "ten-steps", "--input", #"{"stepMilliseconds": "slow"}"#], "baton: --input does not fit ten-steps's context: at \"stepMilliseconds\": expected Int"),
                (["start", "ten-steps", "--input", "@/nonexistent/input.json"], "baton: --input: can't read /nonexistent/input.json"),
                (["send", UUID().uuidString, "carrier-booked"], "baton: there is no run"),
                (["send", "not-a-uuid", "carrier-booked"], "baton: not-a-uuid is not a run id (a UUID)"),
                (["cancel", UUID().uuidString], "baton: there is no run"),
                (["show", UUID().uuidString], "baton: there is no run"),
            ]
            for (arguments, message) in cases {
                let result = try await BatonProcess(arguments, environment: ["BATON_DATABASE_URL": configuration.connectionString]).run()
                #expect(result.status == 1, "baton \(arguments) exited \(result.status)")
                #expect(result.standardError.hasPrefix(message), "baton \(arguments) said: \(result.standardError)")
                #expect(result.standardError.split(separator: "\n").count == 1)
            }
            for table in ["runs", "journal", "events"] {
                #expect(try await count(table, connection) == 0)
            }
        }
    }

    @Test func inputOverThePayloadLimitIsRefusedInOneLine() async throws {
        try await TestDatabase.withFreshConnection { connection, configuration in
            try await Migrator(migrations: try Migration.bundled()).migrate(connection)
            let padded = #"{"stepMilliseconds": 1, "note": "\#(String(repeating: "n", count: 100))"}"#
            let limited = ["BATON_DATABASE_URL": configuration.connectionString, "BATON_MAX_PAYLOAD_BYTES": "64"]
            let start = try await BatonProcess(["start", "ten-steps", "--input", padded], environment: limited).run()
            #expect(start.status == 1)
            #expect(start.standardError == "baton: --input is \(padded.utf8.count) bytes of JSON, over the limit of 64\n")
            let nonsense = ["BATON_DATABASE_URL": configuration.connectionString, "BATON_MAX_PAYLOAD_BYTES": "lots"]
            let misconfigured = try await BatonProcess(["start", "ten-steps"], environment: nonsense).run()
            #expect(misconfigured.status == 1)
            #expect(misconfigured.standardError == "baton: BATON_MAX_PAYLOAD_BYTES must be a positive number of bytes, not lots\n")
            #expect(try await count("runs", connection) == 0)
        }
    }

    @Test func aRunStartedTwiceWithOneKeyThenShownSentToCancelledAndVerified() async throws {
        try await TestDatabase.withFreshConnection { connection, configuration in
            try await Migrator(migrations: try Migration.bundled()).migrate(connection)
            let first = try await baton("start", "ten-steps", "--key", "order-9", "--json", on: configuration)
            let again = try await baton("start", "ten-steps", "--key", "order-9", "--json", on: configuration)
            #expect(first.status == 0 && again.status == 0)
            struct Started: Decodable { let runID: UUID; let created: Bool }
            let made = try JSONDecoder().decode(Started.self, from: Data(first.standardOutput.utf8))
            let found = try JSONDecoder().decode(Started.self, from: Data(again.standardOutput.utf8))
            #expect(made.created && !found.created)
            #expect(made.runID == found.runID)

            let show = try await baton("show", made.runID.uuidString, "--json", on: configuration)
            #expect(show.status == 0)
            #expect(show.standardOutput.contains("\"entry\" : \"run-started step1\""))
            // The context is the JSON document itself, not a string holding it.
            struct Shown: Decodable { let context: TenSteps.Context }
            let shown = try JSONDecoder().decode(Shown.self, from: Data(show.standardOutput.utf8))
            #expect(shown.context.completed == 0 && !shown.context.ledger)
            let sent = try await baton("send", made.runID.uuidString, "nudge", "--data", #"{"why": "test"}"#, on: configuration)
            #expect(sent.status == 0)
            #expect(try await count("events", connection) == 1)
            #expect(try await baton("cancel", made.runID.uuidString, "--reason", "test over", on: configuration).status == 0)
            let reason = try await connection.query("SELECT cancel_reason FROM baton.runs WHERE id = \(made.runID)").scalar(String.self)
            #expect(reason == "test over")
            let verify = try await baton("verify", "--json", on: configuration)
            #expect(verify.status == 0)
            #expect(verify.standardOutput.contains("\"runs\" : 1"))
        }
    }
}
