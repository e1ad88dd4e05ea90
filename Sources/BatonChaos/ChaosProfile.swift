/// How long and how hard a chaos run shakes Baton.
public struct ChaosProfile: Sendable {
    /// How long faults are injected.
    public var faultSeconds: Int
    /// Worker processes kept running (each killed one is replaced).
    public var workers: Int
    /// Runs of `ten-steps` (steps and a business write in each transition), started
    /// evenly over the fault window.
    public var tenStepRuns: Int
    /// Runs of `order-delay` (events, approvals, a child run, a timer).
    public var orders: Int
    /// The longest wait between two faults, in milliseconds (the shortest is a fifth of it).
    public var maxFaultGapMilliseconds: Int
    /// How long the runs get to finish once the faults stop.
    public var settleSeconds: Int

    public init(faultSeconds: Int, workers: Int, tenStepRuns: Int, orders: Int, maxFaultGapMilliseconds: Int, settleSeconds: Int) {
        self.faultSeconds = faultSeconds
        self.workers = workers
        self.tenStepRuns = tenStepRuns
        self.orders = orders
        self.maxFaultGapMilliseconds = maxFaultGapMilliseconds
        self.settleSeconds = settleSeconds
    }

    /// The profile `ops/test` runs: every kind of fault a few times in about 15 s.
    public static let small = ChaosProfile(faultSeconds: 10, workers: 2, tenStepRuns: 300, orders: 30, maxFaultGapMilliseconds: 1_000, settleSeconds: 60)
    /// The profile `ops/chaos` runs: about four minutes of faults.
    public static let full = ChaosProfile(faultSeconds: 240, workers: 3, tenStepRuns: 6_000, orders: 600, maxFaultGapMilliseconds: 2_500, settleSeconds: 180)
}

/// A fault the harness injects.
public enum FaultKind: String, CaseIterable, Sendable, Codable {
    case killWorker = "worker killed (SIGKILL)"
    case restartDatabase = "database restarted (immediate)"
    case terminateConnections = "worker connections terminated"
    case pauseWorker = "worker paused past its lease (SIGSTOP)"
}
