import ArgumentParser
import BatonExamples
import Baton
import Foundation
import LibPQ

struct WorkflowsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workflows", abstract: "List the workflows this baton carries, with their states.")

    @OptionGroup var output: OutputOptions

    struct Listing: Encodable {
        let name: String
        let version: Int
        let initialState: String
        let states: [RegisteredWorkflow.StateSummary]
    }

    func run() async throws {
        let workflows = try Examples.registry().workflows
        try output.report(workflows.map { Listing(name: $0.name, version: $0.version, initialState: $0.initialState, states: $0.states) }) {
            for workflow in workflows {
                print("\(workflow.name) v\(workflow.version) (starts in \(workflow.initialState))")
                for state in workflow.states {
                    let targets = state.targets.isEmpty ? "" : " -> " + state.targets.joined(separator: ", ")
                    print("  \(state.name): \(state.kind)\(targets)")
                }
            }
        }
    }
}

struct StartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a run of a workflow.")

    @Argument(help: "The workflow's name (see baton workflows).")
    var workflow: String

    @Option(help: "The run's context as JSON, or @file.")
    var input = "{}"

    @Option(help: "A business key: starting again with the same key returns the same run.")
    var key: String?

    /// Named apart from `--version`, which every command takes for baton's own version.
    @Option(name: .customLong("workflow-version"), help: "The definition version to start (default: the newest).")
    var version: Int?

    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        let runID: UUID
        let created: Bool
    }

    func run() async throws {
        let input = try readJSON(self.input, option: "--input")
        let started = try await CommandDatabase.with { database in
            try database.store.checkSize(of: String(decoding: input, as: UTF8.self), "--input")
            guard let registered = database.registry.workflow(named: workflow, version: version) else {
                let known = database.registry.workflows.map { "\($0.name) v\($0.version)" }.joined(separator: ", ")
                throw BatonError(.invalidRequest, "no workflow \(workflow)\(version.map { " v\($0)" } ?? "") here (known: \(known))")
            }
            return try await start(registered.workflowType, input: input, store: database.store)
        }
        try output.report(Report(runID: started.runID, created: started.created)) {
            print(started.created ? "Started run \(started.runID)." : "A run with key \(key ?? "") exists already: \(started.runID).")
        }
    }

    private func start<W: Workflow>(_ workflow: W.Type, input: Data, store: RunStore) async throws -> RunStore.Started {
        let context: W.Context
        do {
            context = try JSONDecoder().decode(W.Context.self, from: input)
        } catch {
            throw BatonError(.invalidRequest, "--input does not fit \(W.name)'s context: \(decodingProblem(error))")
        }
        return try await store.start(W.self, context: context, businessKey: key)
    }
}

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List runs, newest first.")

    @Option(help: "Only runs with this status: runnable, waiting, succeeded, failed, cancelled.")
    var status: String?

    @Option(help: "Only runs of this workflow.")
    var workflow: String?

    @Option(help: "At most this many.")
    var limit = 50

    @OptionGroup var output: OutputOptions

    struct Listing: Encodable {
        let id: UUID
        let workflow: String
        let version: Int
        let state: String
        let status: String
        let businessKey: String?
        let updatedAt: Date
    }

    func validate() throws {
        if let status, !["runnable", "waiting", "succeeded", "failed", "cancelled"].contains(status) {
            throw ValidationError("--status must be runnable, waiting, succeeded, failed or cancelled")
        }
        guard limit > 0 else { throw ValidationError("--limit must be 1 or more") }
    }

    func run() async throws {
        let runs = try await CommandDatabase.with { database in
            try await database.pool.withConnection { connection in
                try await connection.query("""
                    SELECT id, workflow, version, state, status, business_key, updated_at FROM baton.runs
                    WHERE (\(status)::text IS NULL OR status = \(status)) AND (\(workflow)::text IS NULL OR workflow = \(workflow))
                    ORDER BY created_at DESC LIMIT \(limit)
                    """).map {
                    Listing(
                        id: try $0.decode(UUID.self, at: 0), workflow: try $0.decode(String.self, at: 1), version: try $0.decode(Int.self, at: 2),
                        state: try $0.decode(String.self, at: 3), status: try $0.decode(String.self, at: 4),
                        businessKey: try $0.decode(String?.self, at: 5), updatedAt: try $0.decode(Date.self, at: 6)
                    )
                }
            }
        }
        try output.report(runs) {
            for run in runs {
                print("\(run.id)  \(run.workflow) v\(run.version)  \(run.status.padding(toLength: 9, withPad: " ", startingAt: 0))  \(run.state)")
            }
            if runs.isEmpty { print("No runs.") }
        }
    }
}

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a run: its state, context and journal as a timeline.")

    @Argument(help: "The run's id.")
    var run: String

    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        struct Entry: Encodable {
            let seq: Int
            let recordedAt: Date
            let worker: String?
            let entry: String
        }
        let id: UUID
        let workflow: String
        let version: Int
        let state: String
        let status: String
        /// The context as the JSON document it is.
        let context: RawJSON
        let driveFailures: Int
        let lastDriveError: String?
        let journal: [Entry]
    }

    func run() async throws {
        let id = try parseRunID(run)
        let report = try await CommandDatabase.with { database in
            guard let stored = try await database.store.run(id) else { throw BatonError(.invalidRequest, "there is no run \(id)") }
            let journal = try await database.store.journal(of: id).map {
                Report.Entry(seq: $0.seq, recordedAt: $0.recordedAt, worker: $0.workerID, entry: $0.record.description)
            }
            return Report(id: id, workflow: stored.workflow, version: stored.version, state: stored.state, status: stored.status,
                          context: RawJSON(stored.context), driveFailures: stored.driveFailures, lastDriveError: stored.lastDriveError,
                          journal: journal)
        }
        try output.report(report) {
            print("run \(report.id): \(report.workflow) v\(report.version), \(report.status) in \(report.state)")
            print("context: \(report.context.text)")
            if let error = report.lastDriveError, report.driveFailures > 0 {
                print("driving it failed \(report.driveFailures) time\(report.driveFailures == 1 ? "" : "s"); last: \(error)")
            }
            let start = report.journal.first?.recordedAt ?? Date()
            for entry in report.journal {
                let offset = String(format: "%+9.3fs", entry.recordedAt.timeIntervalSince(start))
                print("  \(String(entry.seq).leftPadded(to: 3))  \(offset)  \(entry.entry)  [\(entry.worker ?? "?")]")
            }
        }
    }
}

struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "send", abstract: "Send an event to a run (kept until the run waits for it).")

    @Argument(help: "The run's id.")
    var run: String

    @Argument(help: "The event's name.")
    var event: String

    @Option(help: "The event's data as JSON, or @file.")
    var data: String?

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let id = try parseRunID(run)
        let payload = try data.map { String(decoding: try readJSON($0, option: "--data"), as: UTF8.self) }
        try await CommandDatabase.with { try await $0.store.send(event, to: id, payload: payload) }
        try output.report(["runID": id.uuidString, "event": event]) { print("Sent \(event) to run \(id).") }
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Cancel a run: a waiting one at once, a running one at its next transition."
    )

    @Argument(help: "The run's id.")
    var run: String

    @Option(help: "Why; journaled with the cancellation.")
    var reason = "cancelled from the command line"

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let id = try parseRunID(run)
        try await CommandDatabase.with { try await $0.store.requestCancel(id, reason: reason) }
        try output.report(["runID": id.uuidString, "reason": reason]) { print("Asked run \(id) (and its children) to cancel.") }
    }
}

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check that every run row (or one) is the fold of its journal; exit 1 on any mismatch."
    )

    @Argument(help: "One run's id (default: every run).")
    var run: String?

    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        let runs: Int
        let mismatches: [VerificationMismatch]
    }

    func run() async throws {
        let id = try run.map(parseRunID)
        let (runs, mismatches) = try await CommandDatabase.with { try await $0.store.verify(id) }
        try output.report(Report(runs: runs, mismatches: mismatches)) {
            mismatches.forEach { print($0) }
            print("\(runs) run\(runs == 1 ? "" : "s") checked, \(mismatches.count) mismatch\(mismatches.count == 1 ? "" : "es").")
        }
        if !mismatches.isEmpty { throw ExitCode.failure }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: " ", count: max(0, width - count)) + self
    }
}
