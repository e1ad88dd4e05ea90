import Foundation
import Synchronization

/// What a step's body is told: its idempotency key and which attempt this is.
public struct StepAttempt: Sendable, Hashable {
    /// `run id:visit:step name`: the same for every attempt of this step in this visit,
    /// including attempts after a crash. Pass it to external systems to deduplicate.
    public let idempotencyKey: String
    /// 1 for the first attempt.
    public let attempt: Int
}

/// A step that failed its last attempt; the action state's error transition (or the
/// run's failure) carries its description.
public struct StepFailure: Error, Sendable, CustomStringConvertible {
    public let step: String
    public let attempts: Int
    public let underlying: String

    public var description: String { "step \(step) failed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(underlying)" }
}

/// This worker lost the run's lease while working on it: it must stop at once,
/// having written nothing more. Another worker carries on from the journal.
struct FencedOut: Error {}

/// Runs the steps of one action visit: a step whose output is journaled is answered
/// from the journal without running again; a new step's output is journaled (fenced)
/// as soon as it completes.
final class StepJournal: Sendable {
    let store: RunStore
    let runID: UUID
    let visit: Int
    let state: String
    private let seq: Mutex<Int>
    /// True when this worker entered the state itself just now, so no step of this
    /// visit can be journaled yet and the journal need not be asked.
    private let isFreshVisit: Bool
    /// Outputs journaled during this visit by this journal, by step name.
    private let recorded = Mutex<[String: String]>([:])

    init(store: RunStore, runID: UUID, visit: Int, state: String, seq: Int, isFreshVisit: Bool) {
        self.store = store
        self.runID = runID
        self.visit = visit
        self.state = state
        self.seq = Mutex(seq)
        self.isFreshVisit = isFreshVisit
    }

    /// The run's newest journal seq, after the steps this visit journaled.
    var currentSeq: Int { seq.withLock { $0 } }

    nonisolated(nonsending) func step<Output: Codable & Sendable>(
        _ name: String, retry: RetryPolicy, _ body: (StepAttempt) async throws -> Output
    ) async throws -> Output {
        if let stored = try await journaledOutput(of: name) {
            return try JSONDecoder().decode(Output.self, from: Data(stored.utf8))
        }
        let key = "\(runID.uuidString.lowercased()):\(visit):\(name)"
        var attempt = 1
        while true {
            let started = ContinuousClock.now
            do {
                let output = try await body(StepAttempt(idempotencyKey: key, attempt: attempt))
                let encoded = try RunStore.encode(output)
                try await journal(.completed(output: encoded), step: name, attempt: attempt, started: started)
                recorded.withLock { $0[name] = encoded }
                return output
            } catch let error where !(error is FencedOut) && !(error is CancellationError) {
                guard attempt < retry.maxAttempts, !retry.isNonRetryable(error) else {
                    try await journal(.failed(error: "\(error)"), step: name, attempt: attempt, started: started)
                    throw StepFailure(step: name, attempts: attempt, underlying: "\(error)")
                }
                try await Task.sleep(for: retry.pause(after: attempt))
                attempt += 1
            }
        }
    }

    /// The step's output if this visit journaled it already (JSON text).
    private func journaledOutput(of step: String) async throws -> String? {
        if let earlier = recorded.withLock({ $0[step] }) { return earlier }
        return isFreshVisit ? nil : try await store.stepOutput(of: runID, visit: visit, step: step)
    }

    private func journal(_ outcome: RunStore.StepOutcome, step: String, attempt: Int, started: ContinuousClock.Instant) async throws {
        let expected = currentSeq
        let written = try await store.recordStep(
            outcome, step: step, of: runID, visit: visit, state: state, attempt: attempt,
            milliseconds: (ContinuousClock.now - started).milliseconds, expectedSeq: expected
        )
        guard written else { throw FencedOut() }
        seq.withLock { $0 = expected + 1 }
    }
}
