import Foundation
import LibPQ
import Synchronization

/// What a step's body is told: its idempotency key and which attempt this is.
public struct StepAttempt: Sendable, Hashable {
    let runID: UUID
    let visit: Int
    let step: String
    /// 1 for the first attempt.
    public let attempt: Int

    /// `run id:visit:step name`: the same for every attempt of this step in this visit,
    /// including attempts after a crash. Pass it to external systems to deduplicate.
    /// (Written when asked for: most steps never read it.)
    public var idempotencyKey: String { "\(runID.lowercaseText):\(visit):\(step)" }
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
/// from the journal without running again; ``StepJournaling`` says when a completed
/// step's output is journaled.
final class StepJournal: Sendable {

    let store: RunStore
    let runID: UUID
    let visit: Int
    let state: String
    /// The run's row while it acts, rewritten unchanged when steps are journaled
    /// before the transition.
    private let standing: RowChange
    private let seq: Mutex<Int>
    /// True when this worker entered the state itself just now, so no step of this
    /// visit can be journaled yet and the journal need not be asked.
    private let isFreshVisit: Bool
    /// Outputs of this visit's steps this journal ran, in the order they ran. A visit
    /// runs few steps: searching the list costs less than hashing names.
    private let outputs = Mutex<[(step: String, output: String)]>([])
    /// Entries of steps that ended but are not journaled yet.
    private let unjournaled = Mutex<[RunMove.Entry]>([])

    /// Whether the driving worker still holds the run's lease; a step starts only then.
    private let holdsLease: @Sendable () -> Bool

    init(store: RunStore, runID: UUID, standing: RowChange, seq: Int, isFreshVisit: Bool, holdsLease: @escaping @Sendable () -> Bool) {
        self.holdsLease = holdsLease
        self.store = store
        self.runID = runID
        visit = standing.visit
        state = standing.state
        self.standing = standing
        self.seq = Mutex(seq)
        self.isFreshVisit = isFreshVisit
    }

    /// The run's newest journal seq, after the steps this visit journaled.
    var currentSeq: Int { seq.withLock { $0 } }

    /// - Parameter columns: the journal's model columns for an output, for model calls.
    nonisolated(nonsending) func step<Output: Codable & Sendable>(
        _ name: String, retry: RetryPolicy, journal journaling: StepJournaling, columns: (Output) -> ModelColumns? = { _ in nil },
        _ body: (StepAttempt) async throws -> Output
    ) async throws -> Output {
        if let stored = try await journaledOutput(of: name) {
            return try JSONDecoder().decode(Output.self, from: Data(stored.utf8))
        }
        try await journalEndedSteps()
        var attempt = 1
        let firstStarted = ContinuousClock.now
        while true {
            // Another worker may have taken the run over and run this step already.
            guard holdsLease() else { throw FencedOut() }
            let started = ContinuousClock.now
            let output: Output
            let encoded: String
            do {
                output = try await body(StepAttempt(runID: runID, visit: visit, step: name, attempt: attempt))
                encoded = try RunStore.encode(output)
            } catch let error where !(error is FencedOut) && !(error is CancellationError) && !(error is StepFailure) && !(error is BudgetExceeded) {
                guard attempt < retry.maxAttempts, !retry.isNonRetryable(error) else {
                    // A failed model call keeps its attempts: which models were tried and how each failed.
                    let attempts = (error as? ModelCallFailed).flatMap { try? RunStore.encode($0.attempts) }
                    ended(JournalRecord(.stepFailed, from: state, error: "\(error)", step: name), attempt: attempt, started: started, output: attempts)
                    throw StepFailure(step: name, attempts: attempt, underlying: "\(error)")
                }
                try await Task.sleep(for: retry.pause(after: attempt))
                attempt += 1
                continue
            }
            do {
                try store.checkSize(of: encoded, "step \(name)'s output")
            } catch {
                // Running it again would make the same output: no retry.
                ended(JournalRecord(.stepFailed, from: state, error: "\(error)", step: name), attempt: attempt, started: started)
                throw StepFailure(step: name, attempts: attempt, underlying: "\(error)")
            }
            ended(JournalRecord(.stepCompleted, from: state, step: name), attempt: attempt, started: started, output: encoded, model: columns(output))
            outputs.withLock { $0.append((name, encoded)) }
            // Outside the step's retries: a failure to journal is the database's, not the
            // step's; the run is retried later and the unjournaled step runs again.
            if journaling.journalsAtOnce(after: ContinuousClock.now - firstStarted) { try await journalEndedSteps() }
            return output
        }
    }

    /// Hands the entries of steps that ended but are not journaled yet to the
    /// transition that journals them.
    func takeUnjournaled() -> [RunMove.Entry] {
        unjournaled.withLock { entries in
            defer { entries = [] }
            return entries
        }
    }

    /// The step's output if this visit ran or journaled it already (JSON text).
    private func journaledOutput(of step: String) async throws -> String? {
        if let earlier = outputs.withLock({ $0.first { $0.step == step }?.output }) { return earlier }
        guard !isFreshVisit else { return nil }
        return try await JournalingFailed.rethrowing { try await store.stepOutput(of: runID, visit: visit, step: step) }
    }

    private func ended(_ record: JournalRecord, attempt: Int, started: ContinuousClock.Instant, output: String? = nil, model: ModelColumns? = nil) {
        let entry = RunMove.Entry(
            record: record, visit: visit, attempt: attempt,
            durationMilliseconds: (ContinuousClock.now - started).milliseconds, payload: output, model: model
        )
        unjournaled.withLock { $0.append(entry) }
    }

    /// Journals the steps that ended, fenced like a transition, leaving the row as it stands.
    private func journalEndedSteps() async throws {
        let entries = takeUnjournaled()
        guard !entries.isEmpty else { return }
        let expected = currentSeq
        let move = RunMove(journaling: entries, of: runID, expectedSeq: expected, standing: standing)
        guard try await JournalingFailed.rethrowing({ try await store.commit(move, writes: []) }) != nil else { throw FencedOut() }
        seq.withLock { $0 = expected + entries.count }
    }
}

/// The database failed while a step's journal was read or written (a restart, a lost
/// connection): the run's failure to be driven, not its action's, so the action does
/// not take its error transition; the worker gives the run back to be driven again.
struct JournalingFailed: Error, CustomStringConvertible {
    let underlying: any Error
    var description: String { "\(underlying)" }

    /// Runs `body`, wrapping what it throws, except a fencing-out or a cancellation.
    static func rethrowing<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error where error is FencedOut || error is CancellationError {
            throw error
        } catch {
            throw JournalingFailed(underlying: error)
        }
    }
}
