import ArgumentParser
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

    @Option(help: "Seconds each throughput measurement runs.")
    var seconds = 8

    @Option(help: "Rows in the pipeline comparison.")
    var rows = 10_000

    @Flag(help: "Print one JSON document instead of a table.")
    var json = false

    @Flag(help: "Only the engine benchmark (ten-step runs through a worker).")
    var engineOnly = false

    @Option(name: .customLong("in-flight"), parsing: .upToNextOption, help: "Runs in flight in the engine benchmark, one measurement each.")
    var inFlight = [1, 4, 16]

    struct Report: Encodable {
        var inserts: [InsertBenchmark.Figure] = []
        var pipeline: PipelineBenchmark.Figure?
        var engine: [EngineBenchmark.Figure] = []
    }

    func run() async throws {
        let configuration = try PostgresConfiguration(url)
        let progress = Progress(quiet: json)
        var report = Report()
        if !engineOnly {
            for clients in [1, 4] {
                progress.say("Single-row INSERT commits at \(clients) client\(clients == 1 ? "" : "s"), \(seconds) s each side …")
                report.inserts.append(try await InsertBenchmark(configuration: configuration, clients: clients, seconds: seconds).run())
            }
            progress.say("\(rows) rows: one at a time, then in one pipeline …")
            report.pipeline = try await PipelineBenchmark(configuration: configuration, rows: rows).run()
        }
        for inFlight in inFlight {
            progress.say("Ten-step runs with \(inFlight) in flight, then pgbench transitions at \(inFlight) client\(inFlight == 1 ? "" : "s") …")
            report.engine.append(try await EngineBenchmark(configuration: configuration, inFlight: inFlight, seconds: seconds, progress: progress).run())
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
                "in flight  steps/s  p50 step ms  p99 step ms  WAL B/step  commits/step  statements/run  worker CPU µs/step  pgbench tx/s  ratio",
            ]
            for figure in report.engine {
                lines.append(
                    pad("\(figure.inFlight)", 9) + "  " + pad(format(figure.stepsPerSecond), 7) + "  "
                        + pad(String(format: "%.2f", figure.p50StepMilliseconds), 11) + "  " + pad(String(format: "%.2f", figure.p99StepMilliseconds), 11) + "  "
                        + pad(format(figure.walBytesPerStep), 10) + "  " + pad(String(format: "%.2f", figure.commitsPerStep), 12) + "  "
                        + pad(String(format: "%.1f", figure.statementsPerRun), 14) + "  "
                        + pad(format(figure.workerCPUMicrosecondsPerStep), 18) + "  "
                        + pad(format(figure.pgbenchTransactionsPerSecond), 12) + "  " + String(format: "%5.2f", figure.ratio)
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

    private static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
