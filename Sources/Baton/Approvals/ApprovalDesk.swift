import Foundation
import LibPQ

/// Where people decide approvals: approve (optionally editing the proposed payload)
/// or reject, and list what waits for them. `baton approvals`, `approve`, `reject` and
/// `suggestions` are this, on the command line.
///
/// A decision is checked and written in one transaction that locks the approval, so
/// of two concurrent decisions exactly one wins when one is enough. It is refused, with
/// nothing written, when: the approval is not pending (decided, expired, withdrawn); its
/// current deadline passed; the person holds none of the roles asked now (or not the
/// role they name); four-eyes bars the requester from approving; the person decided
/// it already; or an edit is not JSON or the workflow's `apply` refuses it.
///
/// The decision reaches the run as the inbox event ``decisionEvent``; the run journals
/// it (`approval-decided`) and moves on once the approval is decided.
public struct ApprovalDesk: Sendable {
    /// The inbox event that carries a decision to the run.
    public static let decisionEvent = RunStore.reservedEventPrefix + "approval-decision"

    public let store: RunStore
    /// Workflows whose `apply` checks approvers' edits.
    public let registry: WorkflowRegistry

    public init(store: RunStore, registry: WorkflowRegistry) {
        self.store = store
        self.registry = registry
    }

    /// What a decision did.
    public struct Decision: Sendable, Hashable, Codable {
        public let approvalID: UUID
        public let runID: UUID
        /// `approved` or `rejected`: this person's verdict.
        public let verdict: String
        /// How the approval ended, if this decision ended it (nil: more approvals needed).
        public let outcome: ApprovalOutcome?
        /// Approvals at the current level so far, and how many are needed.
        public let approvals: Int
        public let quorum: Int
    }

    /// Approves as `actor`, in `role` (or the first role asked now that `actor` holds),
    /// with an optional comment and an edit of the proposed payload (JSON).
    @discardableResult
    public func approve(_ approvalID: UUID, as actor: String, role: String? = nil, comment: String? = nil, edit: String? = nil) async throws -> Decision {
        try await decide(approvalID, verdict: "approved", actor: actor, role: role, comment: comment, edit: edit)
    }

    /// Rejects as `actor`, giving `reason`.
    @discardableResult
    public func reject(_ approvalID: UUID, as actor: String, role: String? = nil, reason: String) async throws -> Decision {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw BatonError(.invalidRequest, "a rejection needs a reason") }
        return try await decide(approvalID, verdict: "rejected", actor: actor, role: role, comment: reason, edit: nil)
    }

    private func decide(_ id: UUID, verdict: String, actor: String, role: String?, comment: String?, edit: String?) async throws -> Decision {
        guard !actor.trimmingCharacters(in: .whitespaces).isEmpty else { throw BatonError(.invalidRequest, "a decision needs the name of who makes it") }
        if let edit {
            try store.checkSize(of: edit, "the edit")
            guard isJSON(edit) else {
                throw BatonError(.invalidRequest, "the edit is not valid JSON")
            }
        }
        return try await store.withConnection { connection in
            try await connection.withTransaction { connection in
                guard let row = try await connection.query("""
                    SELECT a.status, a.run_id, a.state, a.level, a.approvers::text, a.four_eyes, a.requested_by,
                           a.deadline_at <= baton.current_time(), a.deadline_at, r.workflow, r.version, r.context::text,
                           a.kind, a.amount, a.risk_score, a.confidence, a.subject, a.requested_by, a.attributes::text, a.payload::text
                    FROM baton.approvals a JOIN baton.runs r ON r.id = a.run_id
                    WHERE a.id = \(id) FOR UPDATE OF a
                    """).first
                else { throw BatonError(.invalidRequest, "there is no approval \(id)") }
                let status = try row.decode(String.self, at: 0)
                guard status == "pending" else { throw BatonError(.invalidRequest, "approval \(id) is \(status) already; it takes no more decisions") }
                if try row.decode(Bool.self, at: 7) {
                    let deadline = try row.decode(Date.self, at: 8)
                    throw BatonError(.invalidRequest, "approval \(id)'s deadline passed at \(deadline.formatted(.iso8601)); it is escalated or expires next")
                }
                let runID = try row.decode(UUID.self, at: 1)
                let level = try row.decode(Int.self, at: 3)
                let levels = try JSONDecoder().decode([StoredApproverLevel].self, from: Data(try row.decode(String.self, at: 4).utf8))
                guard levels.indices.contains(level) else { throw BatonError(.storedRun, "approval \(id) is at level \(level + 1) of \(levels.count)") }
                let asked = levels[level]
                let actingRole = try Self.role(of: actor, naming: role, among: asked, approval: id)
                if verdict == "approved", try row.decode(Bool.self, at: 5), try row.decode(String?.self, at: 6) == actor {
                    throw BatonError(.invalidRequest, "\(actor) requested this action; under four-eyes someone else must approve it")
                }
                let decidedBefore = try await connection.query("""
                    SELECT 1 FROM baton.approval_history WHERE approval_id = \(id) AND actor = \(actor)
                    """)
                guard decidedBefore.isEmpty else { throw BatonError(.invalidRequest, "\(actor) decided approval \(id) already") }
                if let edit {
                    guard verdict == "approved" else { throw BatonError(.invalidRequest, "only an approval can carry an edit") }
                    let (workflow, version) = (try row.decode(String.self, at: 9), try row.decode(Int.self, at: 10))
                    guard let registered = registry.workflow(named: workflow, version: version) else {
                        throw BatonError(.invalidRequest, "this program does not know workflow \(workflow) v\(version), so it can't check the edit")
                    }
                    let proposed = try RunStore.proposedAction(row, from: 12)
                    do {
                        try registered.checkEdit(try row.decode(String.self, at: 2), try row.decode(String.self, at: 11),
                                                 DecidedAction(proposed: proposed, payload: edit, wasEdited: true))
                    } catch {
                        throw BatonError(.invalidRequest, "the edit is refused: \(oneLine(error))")
                    }
                }
                try await connection.query("""
                    INSERT INTO baton.approval_history (approval_id, happened, actor, role, level, comment, edit)
                    VALUES (\(id), \(verdict), \(actor), \(actingRole), \(level), \(comment), \(edit)::jsonb)
                    """)
                let approvals = try await connection.query("""
                    SELECT count(*) FROM baton.approval_history WHERE approval_id = \(id) AND level = \(level) AND happened = 'approved'
                    """)[0].decode(Int.self, at: 0)
                let outcome: ApprovalOutcome? = verdict == "rejected" ? .rejected : approvals >= asked.quorum ? .approved : nil
                try await connection.query("""
                    UPDATE baton.approvals SET status = coalesce(\(outcome?.rawValue), status),
                        decided_at = CASE WHEN \(outcome?.rawValue)::text IS NULL THEN NULL ELSE baton.current_time() END,
                        edited_payload = coalesce(\(edit)::jsonb, edited_payload)
                    WHERE id = \(id)
                    """)
                let decision = Decision(approvalID: id, runID: runID, verdict: verdict, outcome: outcome, approvals: approvals, quorum: asked.quorum)
                let event = DecisionEvent(approvalID: id, verdict: verdict, actor: actor, role: actingRole, comment: comment,
                                          outcome: outcome, approvals: approvals, quorum: asked.quorum)
                try await RunStore.deliver(Self.decisionEvent, to: runID, payload: try RunStore.encode(event), on: connection)
                return decision
            }
        }
    }

    /// The role `actor` decides in: `named` if they hold it and it is asked now, else
    /// the first asked role they hold.
    private static func role(of actor: String, naming named: String?, among asked: StoredApproverLevel, approval: UUID) throws -> String {
        if let named {
            guard let members = asked.roles[named] else {
                throw BatonError(.invalidRequest, "approval \(approval) waits for \(asked.roleNames.joined(separator: " or ")) now, not \(named)")
            }
            guard members.contains(actor) else { throw BatonError(.invalidRequest, "\(actor) does not hold role \(named)") }
            return named
        }
        guard let held = asked.roleNames.first(where: { asked.roles[$0]?.contains(actor) == true }) else {
            throw BatonError(.invalidRequest, "\(actor) holds none of the roles approval \(approval) waits for now (\(asked.roleNames.joined(separator: ", ")))")
        }
        return held
    }

    /// The statuses an approval can have, for listings.
    public static let statuses = ["pending", "approved", "rejected", "expired", "suggested", "auto-approved", "withdrawn"]

    /// Approvals, newest first: those `role` may decide now (pending ones), or with `status`.
    public func approvals(role: String? = nil, status: String? = nil, limit: Int = 100) async throws -> [ApprovalSummary] {
        if let status, !Self.statuses.contains(status) {
            throw BatonError(.invalidRequest, "unknown approval status \(status) (\(Self.statuses.joined(separator: ", ")))")
        }
        guard limit > 0 else { throw BatonError(.invalidRequest, "the limit must be positive") }
        return try await store.withConnection { connection in
            try await connection.query("""
                SELECT \(unescaped: ApprovalSummary.columns) FROM baton.approvals a
                WHERE (\(status)::text IS NULL OR a.status = \(status))
                  AND (\(role)::text IS NULL OR (a.status = 'pending' AND a.approvers -> a.level -> 'roles' ? \(role)))
                ORDER BY a.requested_at DESC, a.id LIMIT \(limit)
                """).map(ApprovalSummary.init(row:))
        }
    }

    /// One approval, or nil if there is none with that id.
    public func approval(_ id: UUID) async throws -> ApprovalSummary? {
        try await store.withConnection { connection in
            try await connection.query("SELECT \(unescaped: ApprovalSummary.columns) FROM baton.approvals a WHERE a.id = \(id)")
                .first.map(ApprovalSummary.init(row:))
        }
    }
}

/// What a decision tells the run, as the ``ApprovalDesk/decisionEvent``'s data.
struct DecisionEvent: Codable, Sendable {
    let approvalID: UUID
    let verdict: String
    let actor: String
    let role: String
    let comment: String?
    let outcome: ApprovalOutcome?
    let approvals: Int
    let quorum: Int

    /// How the journal names it: `alice (logistics)`, with the vote count while more are needed.
    var journalReason: String {
        let who = "\(verdict) by \(actor) (\(role))"
        return outcome == nil ? "\(who), \(approvals) of \(quorum)" : who
    }
}

/// An approval as listings show it.
public struct ApprovalSummary: Sendable, Hashable, Codable {
    public let id: UUID
    public let runID: UUID
    public let workflow: String
    public let state: String
    public let policy: String
    public let rule: String
    /// The policy's decision: `auto-execute`, `suggest-only`, `require-approval` or `escalate`.
    public let decision: String
    public let status: String
    /// The level of the approver chain asked now, from 1 (0 when the chain is empty).
    public let level: Int
    /// The roles asked now.
    public let roles: [String]
    public let quorum: Int?
    public let deadline: Date?
    public let requestedAt: Date
    public let decidedAt: Date?
    public let action: ProposedAction
    /// An approver's edit of the action's payload, as JSON text; encoded, like the
    /// payload, as the JSON value it spells.
    @JSONText public private(set) var editedPayload: String?

    static let columns = """
        a.id, a.run_id, a.workflow, a.state, a.policy, a.rule, a.decision, a.status,
        CASE WHEN jsonb_array_length(a.approvers) = 0 THEN 0 ELSE a.level + 1 END,
        coalesce((SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(a.approvers -> a.level -> 'roles') k), '[]')::text,
        (a.approvers -> a.level ->> 'quorum')::integer, a.deadline_at, a.requested_at, a.decided_at,
        a.kind, a.amount, a.risk_score, a.confidence, a.subject, a.requested_by, a.attributes::text, a.payload::text, a.edited_payload::text
        """

    init(row: PostgresRow) throws {
        id = try row.decode(UUID.self, at: 0)
        runID = try row.decode(UUID.self, at: 1)
        workflow = try row.decode(String.self, at: 2)
        state = try row.decode(String.self, at: 3)
        policy = try row.decode(String.self, at: 4)
        rule = try row.decode(String.self, at: 5)
        decision = try row.decode(String.self, at: 6)
        status = try row.decode(String.self, at: 7)
        level = try row.decode(Int.self, at: 8)
        roles = try JSONDecoder().decode([String].self, from: Data(try row.decode(String.self, at: 9).utf8))
        quorum = try row.decode(Int?.self, at: 10)
        deadline = try row.decode(Date?.self, at: 11)
        requestedAt = try row.decode(Date.self, at: 12)
        decidedAt = try row.decode(Date?.self, at: 13)
        action = try RunStore.proposedAction(row, from: 14)
        editedPayload = try row.decode(String?.self, at: 22)
    }
}
