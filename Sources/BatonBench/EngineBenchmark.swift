import Baton
import BatonExamples
import Foundation
import LibPQ
import Logging

/// Runs of the ten-step no-op workflow driven by an in-process worker, at a fixed
/// number of runs in flight, next to pgbench running one journal-like INSERT plus one
/// UPDATE per transaction at the same client count (the raw PostgreSQL limit for a
/// transition).
///
/// Enough runs are started beforehand that the worker never runs dry; it then works
/// for `seconds`, and every figure counts what happened in that window only.
struct EngineBenchmark {
    struct Figure: Encodable {
        let inFlight: Int
        /// The worker's commit lanes and how many runs it claimed ahead of its free slots.
        let commitLanes: Int
        let claimAhead: Int
        let stepsPerSecond: Double
        let transitionsPerSecond: Double
        let p50StepMilliseconds: Double
        let p99StepMilliseconds: Double
        let walBytesPerStep: Double
        /// Database commits per step: below 1 when runs share commits.
        let commitsPerStep: Double
        /// Statements the worker sent per run it finished (claims and heartbeats included).
        let statementsPerRun: Double
        /// CPU time (user + system) of this process, the worker, per step.
        let workerCPUMicrosecondsPerStep: Double
        /// The whole machine's CPU time per step (worker, server, everything else), and
        /// the share of the time its cores were busy; nil where `/proc/stat` can't be read.
        let machineCPUMicrosecondsPerStep: Double?
        let machineBusyShare: Double?
        let pgbenchTransactionsPerSecond: Double
        /// The same for pgbench's run, per transaction.
        let pgbenchMachineCPUMicrosecondsPerTransaction: Double?
        let pgbenchMachineBusyShare: Double?
        /// Steps per second over the raw limit for one transition per transaction.
        let ratio: Double
    }

    /// Several rounds of one measurement, and the round whose ratio is the median (the
    /// lower middle one of an even count).
    struct Rounds: Encodable {
        let median: Figure
        let rounds: [Figure]

        init(_ rounds: [Figure]) {
            self.rounds = rounds
            median = rounds.sorted { $0.ratio < $1.ratio }[(rounds.count - 1) / 2]
        }
    }

    let configuration: PostgresConfiguration
    /// The worker's settings; its concurrency is the runs in flight.
    let workerConfiguration: WorkerConfiguration
    let seconds: Int
    let progress: Progress

    /// Runs in flight: the worker's concurrency.
    var inFlight: Int { workerConfiguration.concurrency }

    func run() async throws -> Figure {
        let admin = try await PostgresConnection.connect(to: configuration)
        defer { Task { await admin.close() } }
        let pool = PostgresPool(configuration: configuration, maxConnections: inFlight + 2)
        let store = RunStore(pool: pool, workerID: "bench")
        // More runs than the worker can finish in the window (it manages well under 1,000 a second).
        try await TenStepLoad(runs: 1_000 * seconds).prepare(admin, store: store, progress: progress)

        var registry = WorkflowRegistry()
        try registry.register(TenSteps.self)
        let worker = Worker(store: store, registry: registry, configuration: workerConfiguration, logger: Logger(label: "bench"))
        progress.say("  working for \(seconds) s …")
        let working = Task { try await worker.run() }
        // Let the worker reach its pace before the window opens.
        try await Task.sleep(for: .milliseconds(500))
        let before = try await EngineCounters.read(admin)
        let cpuBefore = Self.cpuSeconds()
        let machineBefore = MachineCPU.now()
        let statementsBefore = PostgresConnection.statementsSent
        let started = ContinuousClock.now
        try await Task.sleep(for: .seconds(seconds))
        let after = try await EngineCounters.read(admin)
        let cpu = Self.cpuSeconds() - cpuBefore
        let machine = MachineCPU.load(since: machineBefore)
        // Less the counters query this benchmark sent itself.
        let statements = PostgresConnection.statementsSent - statementsBefore - 1
        let elapsed = (ContinuousClock.now - started).seconds
        working.cancel()
        try await working.value
        await pool.close()

        let latencies = try await admin.query("""
            WITH gaps AS (
                SELECT recorded_at, extract(epoch FROM recorded_at - lag(recorded_at) OVER (PARTITION BY run_id ORDER BY seq)) * 1000 AS ms
                FROM baton.journal WHERE kind = 'transition'
            )
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)
            FROM gaps WHERE ms IS NOT NULL AND recorded_at BETWEEN \(before.time) AND \(after.time)
            """)[0]
        let steps = Double(after.steps - before.steps)
        guard steps > 0 else { throw BenchError(message: "the worker completed no step in \(seconds) s") }
        let raw = try await Pgbench.transitions(admin, clients: inFlight, seconds: seconds, configuration: configuration)
        return Figure(
            inFlight: inFlight, commitLanes: workerConfiguration.commitLanes, claimAhead: workerConfiguration.claimAhead,
            stepsPerSecond: steps / elapsed,
            transitionsPerSecond: Double(after.transitions - before.transitions) / elapsed,
            p50StepMilliseconds: try latencies.decode(Double.self, at: 0),
            p99StepMilliseconds: try latencies.decode(Double.self, at: 1),
            walBytesPerStep: Double(after.walBytes - before.walBytes) / steps,
            commitsPerStep: Double(after.commits - before.commits) / steps,
            statementsPerRun: Double(statements) / Double(max(1, after.finished - before.finished)),
            workerCPUMicrosecondsPerStep: cpu * 1_000_000 / steps,
            machineCPUMicrosecondsPerStep: machine.map { $0.busySeconds * 1_000_000 / steps },
            machineBusyShare: machine?.busyShare,
            pgbenchTransactionsPerSecond: raw.transactionsPerSecond,
            pgbenchMachineCPUMicrosecondsPerTransaction: raw.machineCPUMicrosecondsPerTransaction,
            pgbenchMachineBusyShare: raw.machine?.busyShare,
            ratio: steps / elapsed / raw.transactionsPerSecond
        )
    }

    /// CPU time this process has used so far, user plus system, in seconds.
    private static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
