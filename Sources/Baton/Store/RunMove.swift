import Foundation

/// One run's move as a commit writes it: the journal entries to append after
/// `expectedSeq` and the row they lead to. Fenced: it is written only if the run's
/// newest entry is still `expectedSeq` and this worker still holds its lease.
///
/// Encoded flat, one JSON object per move, for the batched statement in
/// ``RunStore`` that applies many moves in one commit.
struct RunMove: Encodable, Sendable {
    let runID: UUID
    let expectedSeq: Int
    let row: RowChange
    let entries: [Entry]

    /// A journal entry with what the runtime adds to the transition logic's record.
    struct Entry: Encodable, Sendable {
        let record: JournalRecord
        /// The visit a step belongs to (the step's idempotency key is run, visit, name).
        var visit: Int?
        var attempt: Int?
        var durationMilliseconds: Double?
        /// JSON text: a step's output or an event's data. A transition's payload is the
        /// move's context, added by the statement.
        var payload: String?
        /// The inbox event an `event-received` entry consumes.
        var eventID: Int?

        private enum CodingKeys: String, CodingKey {
            case kind, stateFrom = "state_from", stateTo = "state_to", reason, error, step, visit, attempt
            case durationMilliseconds = "duration_ms", payload, eventID = "event_id"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(record.kind.rawValue, forKey: .kind)
            try container.encodeIfPresent(record.from, forKey: .stateFrom)
            try container.encodeIfPresent(record.to, forKey: .stateTo)
            try container.encodeIfPresent(record.reason, forKey: .reason)
            try container.encodeIfPresent(record.error, forKey: .error)
            try container.encodeIfPresent(record.step, forKey: .step)
            try container.encodeIfPresent(visit, forKey: .visit)
            try container.encodeIfPresent(attempt, forKey: .attempt)
            try container.encodeIfPresent(durationMilliseconds, forKey: .durationMilliseconds)
            try container.encodeIfPresent(payload, forKey: .payload)
            try container.encodeIfPresent(eventID, forKey: .eventID)
        }
    }

    /// A transition's move: the step entries not journaled yet, then the records of
    /// `result`; an `event-received` record consumes `event` and journals its data.
    init<W: Workflow>(
        _ result: TransitionResult<W>, of runID: UUID, expectedSeq: Int, context: String,
        consuming event: InboxEvent?, after steps: [Entry]
    ) {
        self.runID = runID
        self.expectedSeq = expectedSeq
        let finishedWith = result.records.last { $0.kind == .runFinished }?.error
        row = RowChange(result.position, context: context, error: finishedWith)
        entries = steps + result.records.map { record in
            guard record.kind == .eventReceived, let event else { return Entry(record: record) }
            return Entry(record: record, payload: event.payload, eventID: event.id)
        }
    }

    /// Step entries journaled on their own, the row left as it stands (`standing`).
    init(steps: [Entry], of runID: UUID, expectedSeq: Int, standing: RowChange) {
        self.runID = runID
        self.expectedSeq = expectedSeq
        row = standing
        entries = steps
    }

    private enum CodingKeys: String, CodingKey {
        case runID = "run_id", expectedSeq = "expected_seq", state, status, visit, context, waitingFor = "waiting_for"
        case wakeAfterSeconds = "wake_after", isFinal = "is_final", error, entries
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(runID, forKey: .runID)
        try container.encode(expectedSeq, forKey: .expectedSeq)
        try container.encode(row.state, forKey: .state)
        try container.encode(row.status, forKey: .status)
        try container.encode(row.visit, forKey: .visit)
        try container.encode(row.context, forKey: .context)
        try container.encodeIfPresent(row.waitingFor, forKey: .waitingFor)
        try container.encodeIfPresent(row.wakeAfterSeconds, forKey: .wakeAfterSeconds)
        try container.encode(row.isFinal, forKey: .isFinal)
        try container.encodeIfPresent(row.error, forKey: .error)
        try container.encode(entries, forKey: .entries)
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
    let isFinal: Bool
    /// The error a failed or cancelled run ended with.
    let error: String?

    init<W: Workflow>(_ position: RunPosition<W>, context: String, error: String? = nil) {
        self.error = error
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
        case .sleeping(let duration):
            status = "waiting"
            (waitingFor, wakeAfterSeconds, isFinal) = (nil, duration.seconds, false)
        case .awaitingChildren:
            status = "waiting"
            (waitingFor, wakeAfterSeconds, isFinal) = (nil, nil, false)
        case .finished(let outcome):
            status = outcome.rawValue
            (waitingFor, wakeAfterSeconds, isFinal) = (nil, nil, true)
        }
    }
}
