import Baton
import Foundation
import Synchronization

/// Real `baton worker` processes, for chaos runs and benchmarks: started, killed and
/// replaced, paused, measured and stopped, each logging to its own file in `folder`.
/// (`package`: it hands out ``ChildProcess``es, which are this package's own.)
package final class WorkerProcesses: Sendable {
    private let baton: URL
    private let folder: URL
    private let environment: [String: String]
    private let concurrency: [Int]
    private let options: [String]
    private let state = Mutex<(running: [ChildProcess], logs: [String])>(([], []))

    /// - Parameters:
    ///   - environment: added to this process's environment (`BATON_DATABASE_URL` at least).
    ///   - concurrency: each worker's `--concurrency`, the next of these in turn.
    ///   - leaseSeconds, pollMilliseconds: each worker's `--lease-seconds` and
    ///     `--poll-milliseconds`.
    package init(
        baton: URL, folder: URL, environment: [String: String], concurrency: [Int] = [8], leaseSeconds: Int = 30, pollMilliseconds: Int = 200
    ) {
        precondition(!concurrency.isEmpty, "workers need a concurrency")
        self.baton = baton
        self.folder = folder
        self.environment = environment
        self.concurrency = concurrency
        options = ["--lease-seconds", "\(leaseSeconds)", "--poll-milliseconds", "\(pollMilliseconds)"]
    }

    /// Worker processes started so far.
    package var started: Int { state.withLock { $0.logs.count } }

    /// Starts one more worker.
    @discardableResult
    package func start() throws -> ChildProcess {
        let log = folder.appending(path: "worker-\(started + 1).log").path
        let process = try ChildProcess.spawn(
            baton.path, ["worker", "--concurrency", "\(concurrency[started % concurrency.count])"] + options,
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
            standardOutput: log, standardError: log
        )
        state.withLock {
            $0.running.append(process)
            $0.logs.append(log)
        }
        return process
    }

    /// SIGKILLs a random worker and starts a replacement.
    package func killOne() throws {
        let victim = state.withLock { $0.running.isEmpty ? nil : $0.running.remove(at: Int.random(in: 0..<$0.running.count)) }
        if let victim {
            kill(victim.pid, SIGKILL)
            _ = victim.waitBlocking()
        }
        try start()
    }

    /// SIGSTOPs a random worker; returns its pid for the SIGCONT.
    package func pauseOne() -> pid_t? {
        guard let worker = state.withLock({ $0.running.randomElement() }) else { return nil }
        kill(worker.pid, SIGSTOP)
        return worker.pid
    }

    /// SIGTERMs every worker (after a SIGCONT, in case one is paused) and waits for
    /// them; returns how many did not exit with status 0.
    @discardableResult
    package func stopAll() async -> Int {
        let running = state.withLock { state in
            defer { state.running = [] }
            return state.running
        }
        for worker in running {
            kill(worker.pid, SIGCONT)
            kill(worker.pid, SIGTERM)
        }
        var unclean = 0
        for worker in running where await worker.exitStatus() != 0 { unclean += 1 }
        return unclean
    }

    /// Lines of all workers' logs that contain `text`.
    package func logLines(containing text: String) -> Int {
        state.withLock { $0.logs }.reduce(0) { count, log in
            let contents = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return count + contents.split(separator: "\n").filter { $0.contains(text) }.count
        }
    }

    /// The id a worker writes as (`host-pid`), as in `baton.runs.lease_owner`.
    package static func workerID(of process: ChildProcess) -> String { "\(ProcessInfo.processInfo.hostName)-\(process.pid)" }

    /// Resident memory of a running worker, in MiB (from `/proc`).
    package static func residentMiB(of process: ChildProcess) throws -> Double {
        let status = try String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { throw BatonError(.invalidRequest, "no VmRSS for worker \(process.pid)") }
        return kilobytes / 1024
    }

    /// Runs `body` with workers logging to a scratch folder, then stops whichever are
    /// still running and removes the folder, whether `body` returned or threw.
    package static func withScratch<Result>(
        baton: URL, environment: [String: String], concurrency: Int, leaseSeconds: Int = 30, pollMilliseconds: Int = 20,
        _ body: (WorkerProcesses) async throws -> Result
    ) async throws -> Result {
        try await ScratchFolder.with("baton-workers") { folder in
            let workers = WorkerProcesses(
                baton: baton, folder: folder, environment: environment, concurrency: [concurrency], leaseSeconds: leaseSeconds, pollMilliseconds: pollMilliseconds
            )
            do {
                let result = try await body(workers)
                await workers.stopAll()
                return result
            } catch {
                await workers.stopAll()
                throw error
            }
        }
    }
}
