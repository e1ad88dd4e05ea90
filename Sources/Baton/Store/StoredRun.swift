import Foundation
import LibPQ

/// A run as its row in `baton.runs` says it stands.
public struct StoredRun: Sendable, Hashable {
    public let id: UUID
    public let workflow: String
    public let version: Int
    public let businessKey: String?
    public let state: String
    /// `runnable`, `waiting`, `succeeded`, `failed` or `cancelled`.
    public let status: String
    public let visit: Int
    /// The seq of the run's newest journal entry.
    public let seq: Int
    /// The context as JSON text.
    public let context: String
    public let leaseOwner: String?
    public let cancelReason: String?
    public let error: String?
    /// Whether the run's timeout or sleep has ended, by the database's clock.
    public let isTimeoutDue: Bool
    /// How many events were sent to the run so far.
    public let eventsReceived: Int
    /// Whether the run's newest journal entry is a step's: steps of its current visit are
    /// journaled, and a driver must look them up rather than run them.
    public let hasJournaledStepsThisVisit: Bool
    /// Failed attempts to drive the run since its last transition, and the last error.
    public let driveFailures: Int
    public let lastDriveError: String?
    /// The run that started this one as a child, if any: its end wakes that parent.
    public let parentRunID: UUID?

    /// The columns ``init(row:)`` reads, in order, for `SELECT … FROM baton.runs`.
    static let columns = """
        id, workflow, version, business_key, state, status, visit, seq, context::text, lease_owner, cancel_reason, error,
        coalesce(timeout_at <= baton.current_time(), false), events_received, drive_failures, last_drive_error,
        last_entry_is_step, parent_run_id
        """

    init(row: PostgresRow) throws {
        id = try row.decode(UUID.self, at: 0)
        workflow = try row.decode(String.self, at: 1)
        version = try row.decode(Int.self, at: 2)
        businessKey = try row.decode(String?.self, at: 3)
        state = try row.decode(String.self, at: 4)
        status = try row.decode(String.self, at: 5)
        visit = try row.decode(Int.self, at: 6)
        seq = try row.decode(Int.self, at: 7)
        context = try row.decode(String.self, at: 8)
        leaseOwner = try row.decode(String?.self, at: 9)
        cancelReason = try row.decode(String?.self, at: 10)
        error = try row.decode(String?.self, at: 11)
        isTimeoutDue = try row.decode(Bool.self, at: 12)
        eventsReceived = try row.decode(Int.self, at: 13)
        driveFailures = try row.decode(Int.self, at: 14)
        lastDriveError = try row.decode(String?.self, at: 15)
        hasJournaledStepsThisVisit = try row.decode(Bool.self, at: 16)
        parentRunID = try row.decode(UUID?.self, at: 17)
    }

    /// The context, decoded as `W.Context`.
    public func decodeContext<W: Workflow>(as workflow: W.Type) throws -> W.Context {
        try JSONDecoder().decode(W.Context.self, from: Data(context.utf8))
    }

    /// The run's position in `W`'s definition, rebuilt from its state and status.
    public func position<W: Workflow>(in workflow: W.Type) throws -> RunPosition<W> {
        guard let state = W.State(rawValue: state), let declaration = W.builtDefinition.definition(of: state) else {
            throw BatonError(.storedRun, "run \(id) is in state \(self.state), which \(W.name) v\(W.version) does not declare")
        }
        if let outcome = Outcome(rawValue: status) {
            return RunPosition(state: state, phase: .finished(outcome), visit: visit)
        }
        switch declaration.kind {
        case .action: return RunPosition(state: state, phase: .acting, visit: visit)
        case .wait(let events, let timeout, _):
            return RunPosition(state: state, phase: .waiting(events: events.map(\.name), timeout: timeout?.duration), visit: visit)
        case .sleep(let end, _): return RunPosition(state: state, phase: .sleeping(end.end), visit: visit)
        case .children: return RunPosition(state: state, phase: .awaitingChildren, visit: visit)
        case .approval:
            return RunPosition(state: state, phase: status == "runnable" ? .requestingApproval : .awaitingApproval(deadline: nil), visit: visit)
        case .terminal(let outcome): return RunPosition(state: state, phase: .finished(outcome), visit: visit)
        }
    }
}

/// One entry of `baton.journal`.
public struct StoredJournalEntry: Sendable, Hashable {
    public let seq: Int
    public let record: JournalRecord
    public let workerID: String?
    public let recordedAt: Date
}
