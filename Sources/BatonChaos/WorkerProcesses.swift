import Baton
import Foundation
import Synchronization

/// The `baton worker` processes of a chaos run: started, killed and replaced, paused,
/// and stopped, each with its own log.
final class WorkerProcesses: Sendable {
    private let baton: URL
    private let folder: URL
    private let environment: [String: String]
    private let state = Mutex<(running: [ChildProcess], logs: [String])>(([], []))

    init(baton: URL, folder: URL, environment: [String: String]) {
        self.baton = baton
        self.folder = folder
        self.environment = environment
    }

    /// Worker processes started so far.
    var started: Int { state.withLock { $0.logs.count } }

    /// Starts one more worker: 2 s leases, so paused and killed workers' runs are taken over soon.
    func start() throws {
        let log = folder.appending(path: "worker-\(started + 1).log").path
        let process = try ChildProcess.spawn(
            baton.path, ["worker", "--concurrency", "8", "--lease-seconds", "2", "--poll-milliseconds", "200"],
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
            standardOutput: log, standardError: log
        )
        state.withLock {
            $0.running.append(process)
            $0.logs.append(log)
        }
    }

    /// SIGKILLs a random worker and starts a replacement.
    func killOne() throws {
        let victim = state.withLock { $0.running.isEmpty ? nil : $0.running.remove(at: Int.random(in: 0..<$0.running.count)) }
        if let victim {
            kill(victim.pid, SIGKILL)
            _ = victim.waitBlocking()
        }
        try start()
    }

    /// SIGSTOPs a random worker; returns its pid for the SIGCONT.
    func pauseOne() -> pid_t? {
        guard let worker = state.withLock({ $0.running.randomElement() }) else { return nil }
        kill(worker.pid, SIGSTOP)
        return worker.pid
    }

    /// SIGTERMs every worker (after a SIGCONT, in case one is paused) and waits for
    /// them; returns how many did not exit with status 0.
    func stopAll() async -> Int {
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
    func logLines(containing text: String) -> Int {
        state.withLock { $0.logs }.reduce(0) { count, log in
            let contents = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return count + contents.split(separator: "\n").filter { $0.contains(text) }.count
        }
    }
}
