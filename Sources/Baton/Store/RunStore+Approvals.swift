import Foundation
import LibPQ

/// The approver chain as an approval row keeps it (`baton.approvals.approvers`): the
/// policy's levels with each role's members at the time the action was proposed, so a
/// later change of the policy file does not change who may decide a pending approval.
struct StoredApproverLevel: Codable, Sendable, Hashable {
    let roles: [String: [String]]
    let quorum: Int
    let deadlineSeconds: Double

    enum CodingKeys: String, CodingKey {
        case roles, quorum
        case deadlineSeconds = "deadline_seconds"
    }

    init(_ level: ApproverLevel, in policy: ApprovalPolicy) {
        roles = Dictionary(uniqueKeysWithValues: level.roles.map { ($0, policy.roles[$0] ?? []) })
        quorum = level.quorum
        deadlineSeconds = level.deadline.seconds
    }

    var roleNames: [String] { roles.keys.sorted() }
    var deadline: Duration { .milliseconds(Int64((deadlineSeconds * 1000).rounded())) }
}

/// What the runtime needs of the approval a run in an approval state waits on.
struct PendingApproval: Sendable {
    let id: UUID
    let level: Int
    let levels: [StoredApproverLevel]
    let whenExpired: ExpiryOutcome

    /// What this level's passed deadline leads to.
    var afterDeadline: AfterDeadline {
        guard level + 1 < levels.count else {
            switch whenExpired {
            case .expire: return .conclude(.expired)
            case .reject: return .conclude(.rejected)
            case .approve: return .conclude(.approved)
            }
        }
        let next = levels[level + 1]
        return .escalate(to: next.roleNames, deadline: next.deadline)
    }
}

/// A deadline's write found the approval decided meanwhile: its decision is in the inbox.
struct ApprovalDecidedMeanwhile: Error {}

extension RunStore {
    /// The write that records `action` and the policy's decision for it, in the
    /// transaction of the run's move into waiting (or on past the approval).
    func requestingApproval(
        _ id: UUID, runID: UUID, workflow: String, state: String, visit: Int, action: ProposedAction,
        policy: ApprovalPolicy, rule: PolicyRule
    ) throws -> TransitionWrite {
        let levels = (rule.decision.chain?.levels ?? []).map { StoredApproverLevel($0, in: policy) }
        let (status, happened): (String, String) = switch rule.decision {
        case .autoExecute: ("auto-approved", "auto-executed")
        case .suggestOnly: ("suggested", "suggested")
        case .requireApproval: ("pending", "requested")
        case .escalate: ("pending", "escalated")
        }
        if let payload = action.payload { try checkSize(of: payload, "the proposed \(action.kind) action") }
        let (approvers, attributes) = (try Self.encode(levels), try Self.encode(action.attributes))
        let whenExpired = rule.decision.chain?.whenExpired ?? .expire
        let deadlineSeconds = levels.first?.deadlineSeconds
        return { connection in
            try await connection.query("""
                WITH approval AS (
                    INSERT INTO baton.approvals (id, run_id, workflow, state, visit, policy, rule, decision, kind, amount, risk_score,
                        confidence, subject, requested_by, attributes, payload, approvers, four_eyes, when_expired, deadline_at,
                        status, decided_at)
                    VALUES (\(id), \(runID), \(workflow), \(state), \(visit), \(policy.name), \(rule.name), \(rule.decision.name),
                        \(action.kind), \(action.amount), \(action.riskScore), \(action.confidence), \(action.subject),
                        \(action.requestedBy), \(attributes)::jsonb, \(action.payload)::jsonb, \(approvers)::jsonb, \(policy.fourEyes),
                        \(whenExpired.rawValue),
                        baton.current_time() + make_interval(secs => \(deadlineSeconds)::double precision),
                        \(status), CASE WHEN \(status) = 'pending' THEN NULL ELSE baton.current_time() END)
                    RETURNING id
                )
                INSERT INTO baton.approval_history (approval_id, happened, level) SELECT id, \(happened), 0 FROM approval
                """)
        }
    }

    /// The pending approval the run waits on in `visit`, or nil if none is pending
    /// (it was decided meanwhile).
    func pendingApproval(of runID: UUID, visit: Int) async throws -> PendingApproval? {
        try await withConnection { connection in
            guard let row = try await connection.query("""
                SELECT id, level, approvers::text, when_expired FROM baton.approvals
                WHERE run_id = \(runID) AND visit = \(visit) AND status = 'pending'
                """).first
            else { return nil }
            let levels = try JSONDecoder().decode([StoredApproverLevel].self, from: Data(try row.decode(String.self, at: 2).utf8))
            guard let whenExpired = ExpiryOutcome(rawValue: try row.decode(String.self, at: 3)) else {
                throw BatonError(.storedRun, "approval of run \(runID) has an unknown when_expired")
            }
            return PendingApproval(id: try row.decode(UUID.self, at: 0), level: try row.decode(Int.self, at: 1), levels: levels, whenExpired: whenExpired)
        }
    }

    /// The write that applies `approval`'s passed deadline: the next level is asked,
    /// or the approval ends. Throws ``ApprovalDecidedMeanwhile`` (rolling the move back)
    /// if a decision got there first.
    func passingDeadline(of approval: PendingApproval) -> TransitionWrite {
        let (id, level) = (approval.id, approval.level)
        let (status, happened, nextLevel, deadlineSeconds): (String, String, Int, Double?) = switch approval.afterDeadline {
        case .escalate: ("pending", "escalated", level + 1, approval.levels[level + 1].deadlineSeconds)
        case .conclude(let outcome): (outcome == .approved ? "approved" : outcome.rawValue, "expired", level, nil)
        }
        return { connection in
            let updated = try await connection.query("""
                WITH passed AS (
                    UPDATE baton.approvals SET level = \(nextLevel), status = \(status),
                        deadline_at = CASE WHEN \(status) = 'pending'
                                           THEN baton.current_time() + make_interval(secs => \(deadlineSeconds)::double precision)
                                           ELSE deadline_at END,
                        decided_at = CASE WHEN \(status) = 'pending' THEN NULL ELSE baton.current_time() END
                    WHERE id = \(id) AND status = 'pending' AND level = \(level) AND deadline_at <= baton.current_time()
                    RETURNING id
                )
                INSERT INTO baton.approval_history (approval_id, happened, level) SELECT id, \(happened), \(nextLevel) FROM passed
                RETURNING approval_id
                """)
            guard !updated.isEmpty else { throw ApprovalDecidedMeanwhile() }
        }
    }

    /// The write that withdraws the run's pending approval (the run was cancelled).
    func withdrawingApproval(of runID: UUID, visit: Int) -> TransitionWrite {
        { connection in
            try await connection.query("""
                WITH withdrawn AS (
                    UPDATE baton.approvals SET status = 'withdrawn', decided_at = baton.current_time()
                    WHERE run_id = \(runID) AND visit = \(visit) AND status = 'pending'
                    RETURNING id, level
                )
                INSERT INTO baton.approval_history (approval_id, happened, level) SELECT id, 'withdrawn', level FROM withdrawn
                """)
        }
    }

    /// The action of approval `id` as decided: its payload replaced by the last edit, if any.
    func decidedAction(_ id: UUID) async throws -> DecidedAction {
        try await withConnection { connection in
            guard let row = try await connection.query("""
                SELECT kind, amount, risk_score, confidence, subject, requested_by, attributes::text, payload::text, edited_payload::text
                FROM baton.approvals WHERE id = \(id)
                """).first
            else { throw BatonError(.storedRun, "approval \(id) is gone") }
            let proposed = try Self.proposedAction(row, from: 0)
            let edited = try row.decode(String?.self, at: 8)
            return DecidedAction(proposed: proposed, payload: edited ?? proposed.payload, wasEdited: edited != nil)
        }
    }

    /// A ``ProposedAction`` from the columns kind, amount, risk_score, confidence,
    /// subject, requested_by, attributes and payload, starting at `first`.
    static func proposedAction(_ row: PostgresRow, from first: Int) throws -> ProposedAction {
        ProposedAction(
            kind: try row.decode(String.self, at: first), amount: try row.decode(Double?.self, at: first + 1),
            riskScore: try row.decode(Double?.self, at: first + 2), confidence: try row.decode(Double?.self, at: first + 3),
            subject: try row.decode(String?.self, at: first + 4), requestedBy: try row.decode(String?.self, at: first + 5),
            attributes: try JSONDecoder().decode([String: String].self, from: Data(try row.decode(String.self, at: first + 6).utf8)),
            payloadJSON: try row.decode(String?.self, at: first + 7)
        )
    }
}
