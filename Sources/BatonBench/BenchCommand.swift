import ArgumentParser
import Baton
import Foundation
import LibPQ

/// `baton-bench`: measures Baton's PostgreSQL client against raw PostgreSQL (pgbench)
/// on the same server in the same run, and prints the ratios. Run by `ops/bench`.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton-bench",
        abstract: "Benchmark Baton's PostgreSQL client against pgbench on the same server."
    )

    @Option(help: "The database to benchmark in (its tables are dropped and recreated).")
    var url: String

    /// 30 by default: on the 2-core virtual machine the figures were taken on, pgbench
    /// alone read 5,973-7,899 transactions a second in 3-second runs back to back, and
    /// the engine's 8-second rounds at 4 in flight read 0.73-0.94 of it in one hour
    /// against 0.80-0.94 for 30-second rounds (mean 0.85 against 0.88): a longer window
    /// reads the same sustained rate with less of the moment's noise.
    @Option(help: "Seconds each throughput measurement runs.")
    var seconds = 30

    @Option(help: "Rows in the pipeline comparison.")
    var rows = 10_000

    @Flag(help: "Print one JSON document instead of a table.")
    var json = false

    /// The parts of the benchmark, in the order they run.
    enum Section: String, CaseIterable, ExpressibleByArgument {
        case client, engine, processes, takeover, memory, views
    }

    @Option(parsing: .upToNextOption, help: "The parts to run.")
    var sections: [Section] = Section.allCases

    @Option(name: .customLong("in-flight"), parsing: .upToNextOption, help: "Runs in flight in the engine benchmark, one measurement each.")
    var inFlight = [1, 4, 16]

    @Option(help: "Rounds of each engine measurement, the engine then pgbench in each: on a noisy machine one pair is not enough to read a ratio from. The table shows the round with the median ratio, and every round's ratio.")
    var rounds = 3

    @Option(help: "Commit lanes of the engine benchmark's worker (1 or 2; the worker's default unless given: 2 up to 4 runs in flight, 1 above).")
    var commitLanes: Int?

    @Option(help: "Runs the engine benchmark's worker claims ahead of its free slots (the worker's default unless given: its concurrency).")
    var claimAhead: Int?

    @Option(parsing: .upToNextOption, help: "Worker processes in the processes benchmark, one measurement each.")
    var processes = [1, 2, 4]

    @Option(help: "The baton executable the worker processes run.")
    var baton = ".build/release/baton"

    @Option(help: "Runs in the history the views are timed on.")
    var historyRuns = 1_000_000

    @Option(help: "Timed executions of each history query.")
    var historyTimes = 20

    struct Report: Encodable {
        var inserts: [InsertBenchmark.Figure] = []
        var pipeline: PipelineBenchmark.Figure?
        var engine: [EngineBenchmark.Rounds] = []
        var processes: [WorkerProcessBenchmark.Figure] = []
        var takeover: TakeoverBenchmark.Figure?
        var memory: WaitingMemoryBenchmark.Figure?
        var history: HistoryViewBenchmark.Report?
    }

    func validate() throws {
        guard rounds > 0 else { throw ValidationError("--rounds must be 1 or more") }
        if let commitLanes, !(1...RunStore.commitLanes).contains(commitLanes) {
            throw ValidationError("--commit-lanes must be between 1 and \(RunStore.commitLanes)")
        }
        if let claimAhead, claimAhead < 0 { throw ValidationError("--claim-ahead must be 0 or more") }
    }

    func run() async throws {
        let configuration = try PostgresConfiguration(url)
        let progress = Progress(quiet: json)
        let baton = URL(fileURLWithPath: self.baton)
        var report = Report()
        if sections.contains(.client) {
            for clients in [1, 4] {
                progress.say("Single-row INSERT commits at \(clients) client\(clients == 1 ? "" : "s"), \(seconds) s each side …")
                report.inserts.append(try await InsertBenchmark(configuration: configuration, clients: clients, seconds: seconds).run())
            }
            progress.say("\(rows) rows: one at a time, then in one pipeline …")
            report.pipeline = try await PipelineBenchmark(configuration: configuration, rows: rows).run()
        }
        if sections.contains(.engine) {
            for inFlight in inFlight {
                progress.say("Ten-step runs with \(inFlight) in flight, then pgbench transitions at \(inFlight) client\(inFlight == 1 ? "" : "s") …")
                let engine = EngineBenchmark(
                    configuration: configuration,
                    workerConfiguration: WorkerConfiguration(
                        concurrency: inFlight, pollInterval: .milliseconds(20), claimAhead: claimAhead, commitLanes: commitLanes
                    ),
                    seconds: seconds, progress: progress
                )
                var figures: [EngineBenchmark.Figure] = []
                for round in 1...rounds {
                    if rounds > 1 { progress.say("  round \(round) of \(rounds) …") }
                    figures.append(try await engine.run())
                }
                report.engine.append(EngineBenchmark.Rounds(figures))
            }
        }
        if sections.contains(.processes) {
            for processes in processes {
                let clients = processes * WorkerProcessBenchmark.concurrency
                progress.say("Ten-step runs on \(processes) baton worker process\(processes == 1 ? "" : "es"), then pgbench at \(clients) clients …")
                report.processes.append(
                    try await WorkerProcessBenchmark(configuration: configuration, baton: baton, processes: processes, seconds: seconds, progress: progress).run()
                )
            }
        }
        if sections.contains(.takeover) {
            progress.say("Takeover after SIGKILL …")
            report.takeover = try await TakeoverBenchmark(configuration: configuration, baton: baton, progress: progress).run()
        }
        if sections.contains(.memory) {
            progress.say("Worker memory with \(WaitingMemoryBenchmark.waitingRuns) runs waiting …")
            report.memory = try await WaitingMemoryBenchmark(configuration: configuration, baton: baton, progress: progress).run()
        }
        if sections.contains(.views) {
            progress.say("History queries on \(historyRuns) runs …")
            report.history = try await HistoryViewBenchmark(configuration: configuration, runs: historyRuns, timesEach: historyTimes, progress: progress).run()
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(Table.render(report))
        }
    }
}

/// Lines for the person watching, on stderr so stdout stays clean.
struct Progress {
    let quiet: Bool

    func say(_ line: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

enum Table {
    static func render(_ report: BenchCommand.Report) -> String {
        var lines: [String] = []
        if !report.inserts.isEmpty {
            lines += [
                "Single-row INSERT, one commit each (commits/s, higher is better)",
                "clients  pgbench -M extended  pool.withConnection  ratio  await from cooperative pool  ratio",
            ]
        }
        for figure in report.inserts {
            lines.append(
                pad("\(figure.clients)", 7) + "  " + pad(format(figure.pgbenchCommitsPerSecond), 19) + "  "
                    + pad(format(figure.poolCommitsPerSecond), 19) + "  " + String(format: "%5.2f", figure.poolRatio) + "  "
                    + pad(format(figure.cooperativeCommitsPerSecond), 27) + "  " + String(format: "%5.2f", figure.cooperativeRatio)
            )
        }
        if !report.engine.isEmpty {
            if !lines.isEmpty { lines.append("") }
            lines += [
                "Ten-step no-op runs through a worker; raw limit: pgbench BEGIN; UPDATE; INSERT; COMMIT (-M prepared)",
                "in flight  lanes  ahead  steps/s  p50 step ms  p99 step ms  WAL B/step  commits/step  statements/run  worker CPU µs/step  machine CPU µs/step  busy"
                    + "  pgbench tx/s  machine CPU µs/tx  busy  ratio  every round's ratio",
            ]
            for rounds in report.engine {
                let figure = rounds.median
                lines.append(
                    pad("\(figure.inFlight)", 9) + "  " + pad("\(figure.commitLanes)", 5) + "  " + pad("\(figure.claimAhead)", 5) + "  "
                        + pad(format(figure.stepsPerSecond), 7) + "  "
                        + pad(String(format: "%.2f", figure.p50StepMilliseconds), 11) + "  " + pad(String(format: "%.2f", figure.p99StepMilliseconds), 11) + "  "
                        + pad(format(figure.walBytesPerStep), 10) + "  " + pad(String(format: "%.2f", figure.commitsPerStep), 12) + "  "
                        + pad(String(format: "%.1f", figure.statementsPerRun), 14) + "  "
                        + pad(format(figure.workerCPUMicrosecondsPerStep), 18) + "  "
                        + pad(figure.machineCPUMicrosecondsPerStep.map(format) ?? "-", 19) + "  " + pad(percent(figure.machineBusyShare), 4) + "  "
                        + pad(format(figure.pgbenchTransactionsPerSecond), 12) + "  "
                        + pad(figure.pgbenchMachineCPUMicrosecondsPerTransaction.map(format) ?? "-", 17) + "  "
                        + pad(percent(figure.pgbenchMachineBusyShare), 4) + "  " + String(format: "%5.2f", figure.ratio) + "  "
                        + rounds.rounds.map { String(format: "%.2f", $0.ratio) }.joined(separator: " ")
                )
            }
        }
        if !report.processes.isEmpty {
            lines += [
                "",
                "Ten-step no-op runs on baton worker processes, \(WorkerProcessBenchmark.concurrency) runs in flight each; raw limit: pgbench transitions at the same client count",
                "processes  in flight  steps/s  transitions/s  journal B/transition  pgbench tx/s  ratio",
            ]
            for figure in report.processes {
                lines.append(
                    pad("\(figure.processes)", 9) + "  " + pad("\(figure.inFlight)", 9) + "  " + pad(format(figure.stepsPerSecond), 7) + "  "
                        + pad(format(figure.transitionsPerSecond), 13) + "  " + pad(format(figure.journalBytesPerTransition), 20) + "  "
                        + pad(format(figure.pgbenchTransactionsPerSecond), 12) + "  " + String(format: "%5.2f", figure.ratio)
                )
            }
        }
        if let takeover = report.takeover {
            lines += [
                "",
                "Takeover after SIGKILL of a worker holding \(takeover.runsTakenOver) runs (\(takeover.leaseSeconds) s leases)",
                String(format: "seconds from the kill to the new lease: p50 %.2f, max %.2f", takeover.p50Seconds, takeover.maxSeconds),
            ]
        }
        if let memory = report.memory {
            lines += [
                "",
                "Worker resident memory after \(WaitingMemoryBenchmark.workRuns) ten-step runs (MiB)",
                "with no run waiting                      " + pad(String(format: "%.1f", memory.residentMiBWithoutWaitingRuns), 7),
                "with \(memory.waitingRuns) runs waiting on events          " + pad(String(format: "%.1f", memory.residentMiBWithWaitingRuns), 7),
            ]
        }
        if let history = report.history {
            let width = HistoryViewBenchmark.questions.map(\.question.count).max() ?? 0
            lines += [
                "",
                "History queries on \(history.runs) runs, \(history.journalEntries) journal entries, \(history.approvals) approvals (ms, \(history.timesEach) runs each)",
                "question".padding(toLength: width, withPad: " ", startingAt: 0) + "     p50      p95  query",
            ]
            for figure in history.figures {
                lines.append(
                    figure.question.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + pad(String(format: "%.2f", figure.p50Milliseconds), 6)
                        + "  " + pad(String(format: "%.2f", figure.p95Milliseconds), 7) + "  " + figure.query
                )
            }
        }
        if let pipeline = report.pipeline {
            lines += [
                "",
                "\(pipeline.rows) rows inserted on one connection (ms, lower is better)",
                "one at a time, \(pipeline.rows) commits       " + pad(format(pipeline.oneAtATimeMilliseconds), 9),
                "one at a time in one transaction   " + pad(format(pipeline.oneTransactionMilliseconds), 9),
                "one pipeline, one commit           " + pad(format(pipeline.pipelineMilliseconds), 9)
                    + String(format: "   (%.1fx faster than one transaction)", pipeline.oneTransactionMilliseconds / pipeline.pipelineMilliseconds),
            ]
        }
        return lines.joined(separator: "\n")
    }

    private static func format(_ value: Double) -> String {
        String(format: value >= 100 ? "%.0f" : "%.1f", value)
    }

    /// A share as a whole percentage, or "-" when unknown.
    private static func percent(_ share: Double?) -> String {
        share.map { String(format: "%.0f%%", $0 * 100) } ?? "-"
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
