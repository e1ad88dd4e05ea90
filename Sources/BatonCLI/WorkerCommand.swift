import ArgumentParser
import Baton
import BatonExamples
import Dispatch
import Foundation
import LibPQ
import Logging

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Claim and drive runs until stopped (SIGTERM or SIGINT stop it gracefully).",
        discussion: """
            Any number of workers, on any number of machines, may share one database. A worker \
            that dies leaves its runs to the others once their leases expire.
            """
    )

    @Option(help: "Runs driven at once.")
    var concurrency = 8

    @Option(help: "Seconds a claimed run stays this worker's without a heartbeat.")
    var leaseSeconds = 30.0

    @Option(help: "Milliseconds between looks for work when no notification arrives.")
    var pollMilliseconds = 1000

    func validate() throws {
        guard concurrency > 0 else { throw ValidationError("--concurrency must be 1 or more") }
        guard leaseSeconds > 0 else { throw ValidationError("--lease-seconds must be positive") }
        guard pollMilliseconds > 0 else { throw ValidationError("--poll-milliseconds must be positive") }
    }

    func run() async throws {
        let database = try await BatonConfiguration.fromEnvironment().resolveDatabase()
        let pool = PostgresPool(configuration: database, maxConnections: concurrency + 2)
        let workerID = "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "baton.worker")
        logger.logLevel = .info
        let worker = Worker(
            store: RunStore(pool: pool, workerID: workerID),
            registry: try Examples.registry(),
            configuration: WorkerConfiguration(
                concurrency: concurrency, lease: .milliseconds(Int64(leaseSeconds * 1000)),
                pollInterval: .milliseconds(pollMilliseconds)
            ),
            logger: logger
        )
        let working = Task { try await worker.run() }
        let stopSignals = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { working.cancel() }
            source.resume()
            return source
        }
        try await working.value
        stopSignals.forEach { $0.cancel() }
        await pool.close()
    }
}
