import Baton
import Foundation
import LibPQ

/// Real `baton worker` processes for a measurement: started on the benchmark
/// database, measured, and stopped; each logs to its own file in a scratch folder.
final class BenchWorkers {
    let baton: URL
    let configuration: PostgresConfiguration
    private let folder = FileManager.default.temporaryDirectory.appending(path: "baton-bench-workers-\(UUID().uuidString.prefix(8))")
    private(set) var running: [ChildProcess] = []

    /// Runs `body` with a set of workers, then stops whichever are still running,
    /// whether `body` returned or threw.
    static func with<Result>(
        baton: URL, configuration: PostgresConfiguration, _ body: (BenchWorkers) async throws -> Result
    ) async throws -> Result {
        let workers = try BenchWorkers(baton: baton, configuration: configuration)
        do {
            let result = try await body(workers)
            await workers.stopAll()
            return result
        } catch {
            await workers.stopAll()
            throw error
        }
    }

    private init(baton: URL, configuration: PostgresConfiguration) throws {
        self.baton = baton
        self.configuration = configuration
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// Starts one worker driving up to `concurrency` runs, with `leaseSeconds` leases.
    @discardableResult
    func start(concurrency: Int, leaseSeconds: Int = 30) throws -> ChildProcess {
        let log = folder.appending(path: "worker-\(running.count + 1).log").path
        let worker = try ChildProcess.spawn(
            baton.path,
            ["worker", "--concurrency", "\(concurrency)", "--lease-seconds", "\(leaseSeconds)", "--poll-milliseconds", "20"],
            environment: ProcessInfo.processInfo.environment.merging(["BATON_DATABASE_URL": configuration.connectionString]) { $1 },
            standardOutput: log, standardError: log
        )
        running.append(worker)
        return worker
    }

    /// The id a worker writes as (`host-pid`), as in `baton.runs.lease_owner`.
    static func workerID(of process: ChildProcess) -> String { "\(ProcessInfo.processInfo.hostName)-\(process.pid)" }

    /// Resident memory of a running worker, in MiB (from `/proc`).
    static func residentMiB(of process: ChildProcess) throws -> Double {
        let status = try String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { throw BenchError(message: "no VmRSS for worker \(process.pid)") }
        return kilobytes / 1024
    }

    /// SIGTERMs every worker still running and waits for them; removes the logs.
    func stopAll() async {
        for worker in running { kill(worker.pid, SIGTERM) }
        for worker in running { _ = await worker.exitStatus() }
        running = []
        try? FileManager.default.removeItem(at: folder)
    }
}
