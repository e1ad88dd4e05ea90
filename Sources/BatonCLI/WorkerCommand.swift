import ArgumentParser
import Baton
import BatonExamples
import Dispatch
import Foundation
import LibPQ
import Logging
import Synchronization

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Claim and drive runs until stopped (SIGTERM or SIGINT stop it gracefully).",
        discussion: """
            Any number of workers, on any number of machines, may share one database. A worker \
            that dies leaves its runs to the others once their leases expire.

            On SIGTERM or SIGINT a worker stops claiming and lets the runs it drives reach their \
            next wait or end, for at most --stop-grace-seconds. Runs still being driven then are \
            given up: their leases are released at once for another worker to take them over, \
            and a step still running is not journaled (it runs again there).
            """
    )

    @Option(help: "Runs driven at once.")
    var concurrency = 8

    @Option(help: "Seconds a claimed run stays this worker's without a heartbeat.")
    var leaseSeconds = 30.0

    @Option(help: "Milliseconds between looks for work when no notification arrives.")
    var pollMilliseconds = 1000

    @Option(help: "Seconds a stopping worker lets the runs it drives reach their next wait or end before it gives them up.")
    var stopGraceSeconds = 30.0

    @Option(help: """
        Runs claimed ahead of free slots while drives are short, so a slot that frees does not wait for a claim \
        (default: --concurrency). They are this worker's until it drives them; 0 claims only for free slots.
        """)
    var claimAhead: Int?

    @Option(help: "A JSON or YAML (.yaml, .yml) file of approval policies; each replaces the built-in policy of its name.")
    var policies: String?

    @Option(help: "A JSON or YAML file of models, routes and budgets (default: BATON_MODELS_FILE, else a model the environment names, else the rule-based model).")
    var models: String?

    func validate() throws {
        guard concurrency > 0 else { throw ValidationError("--concurrency must be 1 or more") }
        guard leaseSeconds > 0, Duration.seconds(ifSensible: leaseSeconds) != nil else {
            throw ValidationError("--lease-seconds must be positive, and at most a century")
        }
        guard pollMilliseconds > 0 else { throw ValidationError("--poll-milliseconds must be positive") }
        guard Duration.seconds(ifSensible: stopGraceSeconds) != nil else {
            throw ValidationError("--stop-grace-seconds must be 0 or more, and at most a century")
        }
        guard (claimAhead ?? 0) >= 0 else { throw ValidationError("--claim-ahead must be 0 or more") }
    }

    func run() async throws {
        // Listen for SIGTERM and SIGINT before anything else, so a stop that arrives
        // while the worker connects is graceful too.
        let stopRequest = StopRequest(signals: [SIGTERM, SIGINT])
        let settings = try BatonConfiguration.fromEnvironment()
        var policyBook = try Examples.policies()
        if let policies { policyBook = policyBook.overridden(by: try PolicyBook.load(from: URL(fileURLWithPath: policies))) }
        let router = try ModelSetup.router(file: models, environment: ProcessInfo.processInfo.environment)
        let database = try await settings.resolveDatabase()
        let pool = PostgresPool(configuration: database, maxConnections: concurrency + 2)
        let workerID = "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "baton.worker")
        logger.logLevel = .info
        let worker = Worker(
            store: RunStore(pool: pool, workerID: workerID, maxPayloadBytes: settings.maxPayloadBytes),
            registry: try Examples.registry(),
            policies: policyBook,
            models: router,
            configuration: WorkerConfiguration(
                concurrency: concurrency, lease: Duration.seconds(ifSensible: leaseSeconds) ?? .seconds(30),
                pollInterval: .milliseconds(pollMilliseconds), claimAhead: claimAhead,
                stopGrace: Duration.seconds(ifSensible: stopGraceSeconds) ?? .seconds(30)
            ),
            logger: logger
        )
        let working = Task { try await worker.run() }
        stopRequest.whenRequested { working.cancel() }
        try await working.value
        stopRequest.cancel()
        await pool.close()
    }
}

/// Turns the given signals into one stop request, from the moment it is made: what
/// is to happen on it may be given later, and runs at once if a signal came first.
final class StopRequest {
    private let state = State()
    private let sources: [any DispatchSourceSignal]

    private final class State: Sendable {
        let mutex = Mutex<(requested: Bool, action: (@Sendable () -> Void)?)>((false, nil))
    }

    init(signals: [Int32]) {
        let state = self.state
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let action = state.mutex.withLock { state in
                    state.requested = true
                    return state.action
                }
                action?()
            }
            source.resume()
            return source
        }
    }

    /// Stops listening for the signals.
    func cancel() {
        sources.forEach { $0.cancel() }
    }

    /// Runs `action` when a signal arrives, or now if one already did.
    func whenRequested(_ action: @escaping @Sendable () -> Void) {
        let requested = state.mutex.withLock { state in
            state.action = action
            return state.requested
        }
        if requested { action() }
    }
}
