/// One entry the transition logic asks the runtime to journal, in order.
///
/// The runtime adds what only it knows (sequence number, time, worker, duration,
/// payloads) when it writes the entry.
public struct JournalRecord: Sendable, Hashable, Codable, CustomStringConvertible {
    /// What happened. These are the journal's `kind` values.
    public enum Kind: String, Sendable, Hashable, Codable {
        case runStarted = "run-started"
        case stepCompleted = "step-completed"
        case stepFailed = "step-failed"
        case eventReceived = "event-received"
        case timerFired = "timer-fired"
        case approvalRequested = "approval-requested"
        case approvalDecided = "approval-decided"
        case approvalEscalated = "approval-escalated"
        case approvalExpired = "approval-expired"
        case transition
        case runFinished = "run-finished"
    }

    public let kind: Kind
    /// The state before, for transitions.
    public var from: String?
    /// The state after (or the state entered, for `run-started`).
    public var to: String?
    /// Why: the event's name, `timeout`, `error`, `cancelled`, or the outcome.
    public var reason: String?
    /// The error that caused a failure, if any.
    public var error: String?
    /// The step's name, for step entries.
    public var step: String?

    public init(_ kind: Kind, from: String? = nil, to: String? = nil, reason: String? = nil, error: String? = nil, step: String? = nil) {
        self.kind = kind
        self.from = from
        self.to = to
        self.reason = reason
        self.error = error
        self.step = step
    }

    /// One line, as golden journals and `baton show` print it:
    /// `transition assess -> plan (returned)`, `step-completed assess [check-stock]`.
    public var description: String {
        var line = kind.rawValue
        switch (from, to) {
        case let (from?, to?): line += " \(from) -> \(to)"
        case let (nil, to?): line += " \(to)"
        case let (from?, nil): line += " \(from)"
        case (nil, nil): break
        }
        if let step { line += " [\(step)]" }
        if let reason { line += " (\(reason))" }
        if let error { line += ": \(error)" }
        return line
    }
}
