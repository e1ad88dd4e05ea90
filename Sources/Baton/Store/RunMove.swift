import Foundation
import LibPQ

/// One run's move as a commit writes it: the journal entries to append after
/// `expectedSeq` and the row they lead to. Fenced: it is written only if the run's
/// newest entry is still `expectedSeq` and this worker still holds its lease.
///
/// Written as one flat JSON object per move (``json(_:)``) for the batched statement
/// in ``RunStore`` that applies many moves in one commit.
struct RunMove: Sendable {
    let runID: UUID
    let expectedSeq: Int
    let row: RowChange
    private(set) var entries: [Entry]
    /// Whether the move ends a run that may be a child, whose waiting parent the
    /// statement then wakes.
    let wakesParent: Bool

    /// A journal entry with what the runtime adds to the transition logic's record.
    struct Entry: Sendable {
        let record: JournalRecord
        /// The visit a step belongs to (the step's idempotency key is run, visit, name).
        var visit: Int?
        var attempt: Int?
        var durationMilliseconds: Double?
        /// JSON text: a step's output or an event's data. A transition's payload is the
        /// move's context, added by the statement.
        var payload: String?
        /// The inbox event an `event-received` (or `approval-decided`) entry consumes.
        var eventID: Int?
        /// A model call's model, tokens and cost.
        var model: ModelColumns?
    }

    /// A transition's move: the step entries not journaled yet, then the records of
    /// `result`; an `event-received` or `approval-decided` record consumes `event` and
    /// journals its data. `mayHaveParent` is false for a run known to have no parent
    /// (its end then wakes none).
    init<W: Workflow>(
        _ result: TransitionResult<W>, of runID: UUID, expectedSeq: Int, context: String, sleepsUntil: Date?,
        consuming event: InboxEvent?, after steps: [Entry], mayHaveParent: Bool = true
    ) {
        self.runID = runID
        self.expectedSeq = expectedSeq
        let finishedWith = result.records.last { $0.kind == .runFinished }?.error
        row = RowChange(result.position, context: context, error: finishedWith, sleepsUntil: sleepsUntil)
        wakesParent = row.isFinal && mayHaveParent
        entries = steps + result.records.map { record in
            guard record.kind == .eventReceived || record.kind == .approvalDecided, let event else { return Entry(record: record) }
            return Entry(record: record, payload: event.payload, eventID: event.id)
        }
    }

    /// Whether the move's last entry is a step's: the run row's `last_entry_is_step`,
    /// which tells a driver to look this visit's steps up in the journal.
    var lastEntryIsStep: Bool {
        entries.last.map { [.stepCompleted, .stepFailed].contains($0.record.kind) } ?? false
    }

    /// Sets the payload of the first entry of `kind` (an approval request's action and decision).
    mutating func attach(payload: String, toFirst kind: JournalRecord.Kind) {
        guard let index = entries.firstIndex(where: { $0.record.kind == kind }) else { return }
        entries[index].payload = payload
    }

    /// Entries journaled without a transition (steps that ended, a refused event): the
    /// row stays as it stands (`standing`), its timers included.
    init(journaling entries: [Entry], of runID: UUID, expectedSeq: Int, standing: RowChange) {
        self.runID = runID
        self.expectedSeq = expectedSeq
        var row = standing
        row.keepsTimers = true
        self.row = row
        self.entries = entries
        wakesParent = false
    }

    /// `moves` as the JSON array the batched statement reads. Written by hand: with
    /// `JSONEncoder` this took a fifth of the worker's CPU time per step. Contexts,
    /// outputs and event data are JSON already and go in as JSON values.
    static func json(_ moves: [RunMove]) -> JSONWriter {
        var writer = JSONWriter()
        writer.array(moves) { writer, move in
            writer.object { object in
                object.field("run_id", move.runID.lowercaseText)
                object.field("expected_seq", move.expectedSeq)
                object.field("state", move.row.state)
                object.field("status", move.row.status)
                object.field("visit", move.row.visit)
                object.field("context", json: move.row.context)
                object.field("waiting_for", json: move.row.waitingFor)
                object.field("wake_after", move.row.wakeAfterSeconds)
                object.field("wake_at", move.row.wakeAtEpochSeconds)
                object.field("is_final", move.row.isFinal)
                object.field("keeps_timers", move.row.keepsTimers)
                object.field("error", move.row.error)
                object.field("last_entry_is_step", move.lastEntryIsStep)
                object.key("entries")
                object.writer.array(move.entries) { writer, entry in
                    writer.object { object in
                        object.field("kind", entry.record.kind.rawValue)
                        object.field("state_from", entry.record.from)
                        object.field("state_to", entry.record.to)
                        object.field("reason", entry.record.reason)
                        object.field("error", entry.record.error)
                        object.field("step", entry.record.step)
                        object.field("visit", entry.visit)
                        object.field("attempt", entry.attempt)
                        object.field("duration_ms", entry.durationMilliseconds)
                        object.field("payload", json: entry.payload)
                        object.field("event_id", entry.eventID)
                        if let model = entry.model {
                            object.field("model", model.model)
                            object.field("tokens_in", model.tokensIn)
                            object.field("tokens_out", model.tokensOut)
                            object.field("cost_usd", json: "\(model.costUSD)")
                        }
                    }
                }
            }
        }
        return writer
    }
}

/// The columns of `baton.runs` that a position sets.
struct RowChange: Sendable {
    let state: String
    let status: String
    let visit: Int
    /// JSON text.
    let context: String
    /// JSON array text of the awaited events, or nil.
    let waitingFor: String?
    /// Seconds until the run wakes by itself (sleep or timeout), or nil.
    let wakeAfterSeconds: Double?
    /// When a sleep until a time the context gave ends, in seconds since 1970, or nil.
    let wakeAtEpochSeconds: Double?
    let isFinal: Bool
    /// The error a failed or cancelled run ended with.
    let error: String?
    /// The run's timeout and wake time stay as they are (the run does not move).
    var keepsTimers = false

    /// `sleepsUntil` is when a sleep until a time the context gives ends (see
    /// ``Definition/sleepEnd(entering:context:)``).
    init<W: Workflow>(_ position: RunPosition<W>, context: String, error: String? = nil, sleepsUntil: Date? = nil) {
        self.error = error
        wakeAtEpochSeconds = sleepsUntil?.timeIntervalSince1970
        state = position.state.rawValue
        visit = position.visit
        self.context = context
        switch position.phase {
        case .acting:
            status = "runnable"
            (waitingFor, wakeAfterSeconds, isFinal) = (nil, nil, false)
        case .waiting(let events, let timeout):
            status = "waiting"
            waitingFor = try? RunStore.encode(events)
            wakeAfterSeconds = timeout?.seconds
            isFinal = false
        case .sleeping(.after(let duration)):
            status = "waiting"
            (waitingFor, wakeAfterSeconds, isFinal) = (nil, duration.seconds, false)
        case .sleeping(.atContextTime):
            status = "waiting"
            // Without a time, it wakes at once rather than never.
            (waitingFor, wakeAfterSeconds, isFinal) = (nil, sleepsUntil == nil ? 0 : nil, false)
        case .awaitingChildren:
            status = "waiting"
            (waitingFor, wakeAfterSeconds, isFinal) = (nil, nil, false)
        case .requestingApproval:
            status = "runnable"
            (waitingFor, wakeAfterSeconds, isFinal) = (nil, nil, false)
        case .awaitingApproval(let deadline):
            status = "waiting"
            waitingFor = try? RunStore.encode([ApprovalDesk.decisionEvent])
            wakeAfterSeconds = deadline?.seconds
            isFinal = false
        case .finished(let outcome):
            status = outcome.rawValue
            (waitingFor, wakeAfterSeconds, isFinal) = (nil, nil, true)
        }
    }
}
