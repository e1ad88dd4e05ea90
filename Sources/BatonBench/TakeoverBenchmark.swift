import Baton
import BatonExamples
import BatonTesting
import Foundation
import LibPQ

/// How long the runs of a worker killed with SIGKILL wait before another worker takes
/// them over: from the kill to each run's new lease, with 2 s leases.
struct TakeoverBenchmark {
    struct Figure: Encodable {
        let leaseSeconds: Int
        let runsTakenOver: Int
        let p50Seconds: Double
        let maxSeconds: Double
    }

    static let leaseSeconds = 2
    /// Runs the killed worker holds.
    static let victimRuns = 8

    let configuration: PostgresConfiguration
    let baton: URL
    let progress: Progress

    func run() async throws -> Figure {
        let admin = try await PostgresConnection.connect(to: configuration)
        defer { Task { await admin.close() } }
        let pool = PostgresPool(configuration: configuration, maxConnections: 8)
        // Slow steps, so the runs are mid-step when their worker dies.
        let load = TenStepLoad(runs: Self.victimRuns, context: TenSteps.Context(stepMilliseconds: 200))
        try await load.prepare(admin, store: RunStore(pool: pool, workerID: "bench"), progress: progress)
        await pool.close()

        return try await WorkerProcesses.withScratch(
            baton: baton, environment: ["BATON_DATABASE_URL": configuration.connectionString], concurrency: Self.victimRuns, leaseSeconds: Self.leaseSeconds
        ) { workers in
            let victim = try workers.start()
            let victimID = WorkerProcesses.workerID(of: victim)
            func held(by owner: String) async throws -> Int {
                try await admin.query("SELECT count(*) FROM baton.runs WHERE lease_owner = \(owner) AND status = 'runnable'").scalar(Int.self)
            }
            try await waitUntil("the first worker holds every run") { try await held(by: victimID) == Self.victimRuns }
            let heir = try workers.start()
            let heirID = WorkerProcesses.workerID(of: heir)
            try await Task.sleep(for: .milliseconds(500))  // the heir is up and polling

            progress.say("  SIGKILL of a worker holding \(Self.victimRuns) runs; waiting for the takeover …")
            let killed = ContinuousClock.now
            kill(victim.pid, SIGKILL)
            _ = await victim.exitStatus()
            var takenOver: [UUID: Double] = [:]
            let deadline = killed + .seconds(Self.leaseSeconds * 10)
            while takenOver.count < Self.victimRuns, ContinuousClock.now < deadline {
                let owned = try await admin.query("SELECT id FROM baton.runs WHERE lease_owner = \(heirID)").map { try $0.decode(UUID.self, at: 0) }
                let now = (ContinuousClock.now - killed).seconds
                for run in owned where takenOver[run] == nil { takenOver[run] = now }
                try await Task.sleep(for: .milliseconds(5))
            }
            guard takenOver.count == Self.victimRuns else {
                throw BenchError(message: "only \(takenOver.count) of \(Self.victimRuns) runs were taken over within \(Self.leaseSeconds * 10) s")
            }
            let times = takenOver.values.sorted()
            return Figure(leaseSeconds: Self.leaseSeconds, runsTakenOver: times.count, p50Seconds: times[times.count / 2], maxSeconds: times.last ?? 0)
        }
    }
}

/// Polls `condition` every 10 ms for up to a minute; throws naming `what` if it never held.
func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw BenchError(message: "timed out waiting until \(what)")
}
