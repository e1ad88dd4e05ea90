import Foundation

/// An action a workflow proposes (a tool call, a payment, an ERP update, a message to a
/// customer) and that a policy decides about: execute it, only suggest it, have
/// people approve it first, or escalate it.
///
/// ```swift
/// try ProposedAction(kind: "reroute", amount: 4_800, riskScore: 0.3, subject: "order 4711",
///                    requestedBy: "planner-bot", payload: plan)
/// ```
public struct ProposedAction: Sendable, Hashable, Codable {
    /// What the action is, as policies match it: `payment`, `reroute`, `refund` …
    public var kind: String
    /// The money it moves, if any, in the workflow's currency.
    public var amount: Double?
    /// How risky the workflow judges it, usually 0…1.
    public var riskScore: Double?
    /// How confident the model that proposed it is, 0…1.
    public var confidence: Double?
    /// What it is about: an order, a customer, an invoice.
    public var subject: String?
    /// Who (or what) asked for it; under four-eyes this one may not approve it.
    public var requestedBy: String?
    /// Whatever else a policy should be able to match on.
    public var attributes: [String: String]
    /// The action itself as JSON text (what approvers read and may edit), if any. Encoded,
    /// it is the JSON value it spells, not a string of JSON, so a script reading
    /// `baton approvals --json` or SQL reading the journal's `approval-requested` entry
    /// can reach into it; decoded, it is that JSON with sorted keys.
    @JSONText public var payload: String?

    /// An action whose payload, if any, is JSON text already (`payloadJSON`). To propose a
    /// value, pass it as `payload:` to the initializer that encodes it: a `String` given
    /// there is encoded as a JSON string.
    public init(
        kind: String, amount: Double? = nil, riskScore: Double? = nil, confidence: Double? = nil, subject: String? = nil,
        requestedBy: String? = nil, attributes: [String: String] = [:], payloadJSON: String? = nil
    ) {
        self.kind = kind
        self.amount = amount
        self.riskScore = riskScore
        self.confidence = confidence
        self.subject = subject
        self.requestedBy = requestedBy
        self.attributes = attributes
        payload = payloadJSON
    }

    /// The same, with `payload` encoded as JSON.
    public init<Payload: Encodable>(
        kind: String, amount: Double? = nil, riskScore: Double? = nil, confidence: Double? = nil, subject: String? = nil,
        requestedBy: String? = nil, attributes: [String: String] = [:], payload: Payload
    ) throws {
        let json: String? = try RunStore.encode(payload)
        self.init(
            kind: kind, amount: amount, riskScore: riskScore, confidence: confidence, subject: subject,
            requestedBy: requestedBy, attributes: attributes, payloadJSON: json
        )
    }
}

/// The action as it was decided: the proposal, with an approver's edits to its payload
/// if there were any. An ``Approval`` state's `apply` reads it into the context.
public struct DecidedAction: Sendable, Hashable {
    public let proposed: ProposedAction
    /// The payload to carry out: the approver's edit, or the proposal's.
    public let payload: String?
    /// Whether an approver changed the payload.
    public let wasEdited: Bool

    /// The payload decoded as `T`; throws a clear error if there is none or it does not fit.
    public func decodePayload<T: Decodable>(_ type: T.Type) throws -> T {
        try decodeCarried(payload, as: T.self, "the \(proposed.kind) action's payload", carrier: "the \(proposed.kind) action")
    }
}
