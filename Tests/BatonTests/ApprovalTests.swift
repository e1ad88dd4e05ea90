import Baton
import BatonExamples
import BatonTesting
import Foundation
import LibPQ
import Testing

/// A payment that policy `payments` decides: approved ones are paid, rejected ones
/// refused, expired ones dropped, suggested ones noted. An approver may lower the
/// amount or change the payee, never raise the amount.
struct Payment: Workflow {
    static let name = "payment"
    static let version = 1

    struct Context: Codable, Sendable {
        var kind = "payment"
        var amount: Double
        var payee = "ACME"
        var requester = "erin"
        var paid = false
        /// Proposed as the action's payload text instead of the order, when set.
        var rawPayload: String?
    }

    struct Order: Codable, Sendable {
        var payee: String
        var amount: Double
    }

    enum State: String, WorkflowState { case approve, pay, paid, refused, expired, noted }

    static var definition: Definition<Self> {
        Definition(initial: .approve) {
            Approval(
                .approve, policy: "payments",
                proposing: { payment in
                    if let raw = payment.rawPayload {
                        return ProposedAction(kind: payment.kind, amount: payment.amount, requestedBy: payment.requester, payloadJSON: raw)
                    }
                    return try ProposedAction(kind: payment.kind, amount: payment.amount, subject: payment.payee, requestedBy: payment.requester,
                                              payload: Order(payee: payment.payee, amount: payment.amount))
                },
                approved: .pay, rejected: .refused, expired: .expired, suggested: .noted,
                apply: { payment, action in
                    let order = try action.decodePayload(Order.self)
                    guard order.amount > 0, order.amount <= payment.amount else {
                        throw BatonError(.invalidRequest, "an edit may lower the amount, not raise it")
                    }
                    (payment.payee, payment.amount) = (order.payee, order.amount)
                }
            )
            Action(.pay, to: .paid) { run in
                run.context.paid = true
                return .paid
            }
            Terminal(.paid)
            Terminal(.refused, outcome: .cancelled)
            Terminal(.expired, outcome: .failed)
            Terminal(.noted)
        }
    }
}

@Suite("Approvals", .tags(.database))
struct ApprovalTests {
    static func registry() throws -> WorkflowRegistry {
        var registry = WorkflowRegistry()
        try registry.register(Payment.self)
        return registry
    }

    /// Claims the payment run that is due, if any, and drives it until it stops.
    @discardableResult
    static func drive(_ store: RunStore) async throws -> RunDriver.Stop? {
        guard let run = try await store.claim(versions: [(name: Payment.name, version: Payment.version)], limit: 1, lease: .seconds(30)).first
        else { return nil }
        return try await RunDriver(store: store, policies: try PolicyBook([paymentPolicy])).drive(Payment.self, run)
    }

    static func pendingApproval(_ desk: ApprovalDesk, of run: UUID) async throws -> ApprovalSummary {
        try #require(try await desk.approvals(status: "pending").first { $0.runID == run })
    }

    static func journal(_ store: RunStore, _ run: UUID) async throws -> [String] {
        try await store.journal(of: run).map(\.record.description)
    }

    static func result<Value: Sendable>(_ body: @Sendable () async throws -> Value) async -> Result<Value, any Error> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    /// Expects `body` to be refused with exactly `message`.
    static func expectRefusal(_ message: String, _ body: () async throws -> Void) async {
        await #expect {
            try await body()
        } throws: { error in
            (error as? BatonError)?.message == message
        }
    }

    @Test func anApprovalWithAnEditIsAppliedJournaledAndAudited() async throws {
        try await withMigratedStore { store, clockwork in
            let desk = ApprovalDesk(store: store, registry: try Self.registry())
            let run = try await store.start(Payment.self, context: .init(amount: 500)).runID
            #expect(try await Self.drive(store) == .waiting)
            let approval = try await Self.pendingApproval(desk, of: run)
            #expect(approval.roles == ["finance"])
            #expect(approval.rule == "payments")
            #expect(try await desk.approvals(role: "finance").map(\.id) == [approval.id])
            #expect(try await desk.approvals(role: "cfo").isEmpty)

            // Each refused, with nothing written.
            let id = approval.id
            await Self.expectRefusal("dave holds none of the roles approval \(id) waits for now (finance)") {
                try await desk.approve(id, as: "dave")
            }
            await Self.expectRefusal("approval \(id) waits for finance now, not cfo") { try await desk.approve(id, as: "carol", role: "cfo") }
            await Self.expectRefusal("dave does not hold role finance") { try await desk.approve(id, as: "dave", role: "finance") }
            await Self.expectRefusal("erin requested this action; under four-eyes someone else must approve it") {
                try await desk.approve(id, as: "erin")
            }
            await Self.expectRefusal("the edit is not valid JSON") { try await desk.approve(id, as: "alice", edit: "{amount: 1") }
            await Self.expectRefusal("the edit is refused: an edit may lower the amount, not raise it") {
                try await desk.approve(id, as: "alice", edit: #"{"payee": "ACME", "amount": 5000}"#)
            }
            await Self.expectRefusal(#"the edit is refused: the payment action's payload does not fit Order: at the top: missing "payee""#) {
                try await desk.approve(id, as: "alice", edit: #"{"amount": 400}"#)
            }
            await Self.expectRefusal("a rejection needs a reason") { try await desk.reject(id, as: "bob", reason: " ") }
            let written = try await clockwork.connection.query("""
                SELECT (SELECT count(*) FROM baton.approval_history), (SELECT count(*) FROM baton.events),
                       (SELECT status FROM baton.approvals WHERE id = \(id))
                """)[0]
            #expect(try written.decode(Int.self, at: 0) == 1)  // the request
            #expect(try written.decode(Int.self, at: 1) == 0)
            #expect(try written.decode(String.self, at: 2) == "pending")

            let decision = try await desk.approve(id, as: "alice", comment: "supplier confirmed", edit: #"{"payee": "ACME GmbH", "amount": 450}"#)
            #expect(decision.outcome == .approved)
            await Self.expectRefusal("approval \(id) is approved already; it takes no more decisions") {
                try await desk.reject(id, as: "bob", reason: "too late")
            }
            #expect(try await Self.drive(store) == .finished(.succeeded))
            let context = try #require(try await store.run(run)).decodeContext(as: Payment.self)
            #expect((context.payee, context.amount, context.paid) == ("ACME GmbH", 450, true))
            #expect(try await Self.journal(store, run) == [
                "run-started approve",
                "approval-requested approve (require-approval: finance)",
                "approval-decided approve (approved by alice (finance))",
                "transition approve -> pay (approved)",
                "transition pay -> paid (returned)",
                "run-finished paid (succeeded)",
            ])
            // The request's entry keeps the action's payload as the JSON it is, so SQL reaches into it.
            let requested = try await clockwork.connection.query("""
                SELECT payload -> 'action' -> 'payload' ->> 'payee' FROM baton.journal WHERE run_id = \(run) AND kind = 'approval-requested'
                """)
            #expect(try requested.map { try $0.decode(String?.self, at: 0) } == ["ACME"])
            let audit = try await clockwork.connection.query("""
                SELECT happened, actor, role, comment, edit ->> 'payee', approval_status FROM baton.approval_audit
                WHERE run_id = \(run) ORDER BY at, happened DESC
                """)
            #expect(try audit.map { try "\($0.decode(String.self, at: 0)) \($0.decode(String?.self, at: 1) ?? "-") \($0.decode(String?.self, at: 2) ?? "-") \($0.decode(String?.self, at: 3) ?? "-") \($0.decode(String?.self, at: 4) ?? "-") \($0.decode(String.self, at: 5))" } == [
                "requested - - - - approved",
                "approved alice finance supplier confirmed ACME GmbH approved",
            ])
            await #expect {
                try await clockwork.connection.query("UPDATE baton.approval_history SET actor = 'mallory' WHERE actor = 'alice'")
            } throws: { error in
                (error as? PostgresError)?.message == "baton.approval_history is append-only: UPDATE is not allowed"
            }
            let times = try await clockwork.connection.query("SELECT workflow, role, decisions FROM baton.approval_decision_times")
            #expect(try times.map { "\(try $0.decode(String.self, at: 0)) \(try $0.decode(String.self, at: 1)) \(try $0.decode(Int.self, at: 2))" } == ["payment finance 1"])
            #expect(try await store.verify(run).mismatches.isEmpty)
        }
    }

    @Test func aQuorumWaitsForEveryVoteAndOneRejectionDecides() async throws {
        try await withMigratedStore { store, _ in
            let desk = ApprovalDesk(store: store, registry: try Self.registry())
            let run = try await store.start(Payment.self, context: .init(amount: 20_000)).runID
            #expect(try await Self.drive(store) == .waiting)
            let id = try await Self.pendingApproval(desk, of: run).id
            let first = try await desk.approve(id, as: "alice", comment: "fine by me")
            #expect(first.outcome == nil)
            #expect((first.approvals, first.quorum) == (1, 2))
            await Self.expectRefusal("alice decided approval \(id) already") { try await desk.approve(id, as: "alice") }
            #expect(try await Self.drive(store) == .waiting)  // the vote is journaled; the run waits on
            let second = try await desk.reject(id, as: "bob", reason: "payee not on the supplier list")
            #expect(second.outcome == .rejected)
            #expect(try await Self.drive(store) == .finished(.cancelled))
            #expect(try await Self.journal(store, run) == [
                "run-started approve",
                "approval-requested approve (require-approval: finance)",
                "approval-decided approve (approved by alice (finance), 1 of 2)",
                "approval-decided approve (rejected by bob (finance))",
                "transition approve -> refused (rejected)",
                "run-finished refused (cancelled)",
            ])
            #expect(try await store.verify(run).mismatches.isEmpty)
        }
    }

    @Test func ofAConcurrentApproveAndRejectExactlyOneWins() async throws {
        try await withMigratedStore { store, clockwork in
            let desk = ApprovalDesk(store: store, registry: try Self.registry())
            for round in 0..<5 {
                let run = try await store.start(Payment.self, context: .init(amount: 500 + Double(round))).runID
                #expect(try await Self.drive(store) == .waiting)
                let id = try await Self.pendingApproval(desk, of: run).id
                async let approving = Self.result { try await desk.approve(id, as: "alice") }
                async let rejecting = Self.result { try await desk.reject(id, as: "bob", reason: "duplicate invoice") }
                let (approved, rejected) = await (approving, rejecting)
                let winners = [approved, rejected].compactMap { try? $0.get() }
                #expect(winners.count == 1)
                let outcome = try #require(winners.first?.outcome)
                let decisions = try await clockwork.connection.query("""
                    SELECT count(*) FROM baton.approval_history WHERE approval_id = \(id) AND actor IS NOT NULL
                    """).scalar(Int.self)
                #expect(decisions == 1)
                #expect(try await Self.drive(store) == (outcome == .approved ? .finished(.succeeded) : .finished(.cancelled)))
                #expect(try await Self.journal(store, run).filter { $0.hasPrefix("transition approve") } == [
                    "transition approve -> \(outcome == .approved ? "pay" : "refused") (\(outcome.rawValue))"
                ])
            }
        }
    }

    @Test func aDeadlineEscalatesThroughTwoLevelsThenExpires() async throws {
        try await withMigratedStore { store, clockwork in
            let desk = ApprovalDesk(store: store, registry: try Self.registry())
            let run = try await store.start(Payment.self, context: .init(amount: 50_000)).runID
            #expect(try await Self.drive(store) == .waiting)
            let id = try await Self.pendingApproval(desk, of: run).id
            #expect(try await Self.drive(try await clockwork.store(at: "30 minutes")) == nil)  // not due yet

            #expect(try await Self.drive(try await clockwork.store(at: "61 minutes")) == .waiting)
            #expect(try await desk.approvals(role: "cfo").map(\.id) == [id])
            let later = ApprovalDesk(store: try await clockwork.store(at: "62 minutes"), registry: try Self.registry())
            await Self.expectRefusal("approval \(id) waits for cfo now, not finance") { try await later.approve(id, as: "alice", role: "finance") }

            #expect(try await Self.drive(try await clockwork.store(at: "122 minutes")) == .waiting)
            #expect(try await desk.approvals(role: "board").map(\.id) == [id])
            #expect(try await Self.drive(try await clockwork.store(at: "183 minutes")) == .finished(.failed))
            #expect(try await store.run(run)?.state == "expired")
            let expired = try await clockwork.store(at: "184 minutes")
            await Self.expectRefusal("approval \(id) is expired already; it takes no more decisions") {
                try await ApprovalDesk(store: expired, registry: try Self.registry()).approve(id, as: "dave")
            }
            #expect(try await Self.journal(store, run) == [
                "run-started approve",
                "approval-requested approve (require-approval: finance)",
                "approval-escalated approve (to cfo)",
                "approval-escalated approve (to board)",
                "approval-expired approve (expired)",
                "transition approve -> expired (expired)",
                "run-finished expired (failed)",
            ])
            let escalations = try await clockwork.connection.query("""
                SELECT coalesce(from_roles, '-') || ' -> ' || to_roles FROM baton.approval_escalations WHERE approval_id = \(id) ORDER BY at
                """)
            #expect(try escalations.map { try $0.decode(String.self, at: 0) } == ["finance -> cfo", "cfo -> board"])
            #expect(try await store.verify(run).mismatches.isEmpty)
        }
    }

    @Test func aDeadlineThatRejectsTakesTheRejectedTransition() async throws {
        try await withMigratedStore { store, clockwork in
            let run = try await store.start(Payment.self, context: .init(amount: 500)).runID
            #expect(try await Self.drive(store) == .waiting)
            #expect(try await Self.drive(try await clockwork.store(at: "2 hours")) == .finished(.cancelled))
            #expect(try await Self.journal(store, run).suffix(3) == [
                "approval-expired approve (rejected at the deadline)",
                "transition approve -> refused (rejected)",
                "run-finished refused (cancelled)",
            ])
        }
    }

    @Test func aProposalWhosePayloadIsNotJSONFailsTheRunAndRecordsNoApproval() async throws {
        try await withMigratedStore { store, clockwork in
            let run = try await store.start(Payment.self, context: .init(amount: 500, rawPayload: "{amount: 500")).runID
            #expect(try await Self.drive(store) == .finished(.failed))
            #expect(try await Self.journal(store, run) == [
                "run-started approve",
                "run-finished approve (failed: error): proposing the action failed: its payload is not JSON",
            ])
            let approvals = try await clockwork.connection.query("SELECT count(*) FROM baton.approvals")[0]
            #expect(try approvals.decode(Int.self, at: 0) == 0)
            #expect(try await store.verify().mismatches.isEmpty)
        }
    }

    @Test func pettyPaymentsGoAheadOthersAreOnlySuggestedAndAPolicyCanEscalateAtOnce() async throws {
        try await withMigratedStore { store, clockwork in
            let desk = ApprovalDesk(store: store, registry: try Self.registry())
            let petty = try await store.start(Payment.self, context: .init(amount: 40)).runID
            #expect(try await Self.drive(store) == .finished(.succeeded))
            #expect(try await Self.journal(store, petty).prefix(4) == [
                "run-started approve",
                "approval-requested approve (auto-execute)",
                "approval-decided approve (approved by policy)",
                "transition approve -> pay (approved)",
            ])
            let gift = try await store.start(Payment.self, context: .init(kind: "gift", amount: 40)).runID
            #expect(try await Self.drive(store) == .finished(.succeeded))
            #expect(try await store.run(gift)?.state == "noted")
            let suggestions = try await desk.approvals(status: "suggested")
            #expect(suggestions.map(\.runID) == [gift])
            #expect(suggestions.first?.action.payload == #"{"payee": "ACME", "amount": 40}"#)
            #expect(try await desk.approvals(status: "auto-approved").map(\.runID) == [petty])

            let huge = try await store.start(Payment.self, context: .init(amount: 3_000_000)).runID
            #expect(try await Self.drive(store) == .waiting)
            #expect(try await Self.journal(store, huge).last == "approval-requested approve (escalate: board)")
            #expect(try await desk.approvals(role: "board").map(\.runID) == [huge])
            let escalations = try await clockwork.connection.query("SELECT coalesce(from_roles, '-'), to_roles FROM baton.approval_escalations")
            #expect(try escalations.map { "\(try $0.decode(String.self, at: 0)) \(try $0.decode(String.self, at: 1))" } == ["- board"])
        }
    }

    @Test func cancellingARunWithdrawsItsApprovalAndNobodyCanForgeADecision() async throws {
        try await withMigratedStore { store, _ in
            let desk = ApprovalDesk(store: store, registry: try Self.registry())
            let run = try await store.start(Payment.self, context: .init(amount: 500)).runID
            #expect(try await Self.drive(store) == .waiting)
            let id = try await Self.pendingApproval(desk, of: run).id
            await Self.expectRefusal("event names starting with baton. are Baton's own; pick another name") {
                try await store.send(ApprovalDesk.decisionEvent, to: run, payload: #"{"verdict": "approved"}"#)
            }
            try await store.requestCancel(run, reason: "order withdrawn")
            #expect(try await Self.drive(store) == .finished(.cancelled))
            #expect(try await desk.approval(id)?.status == "withdrawn")
            await Self.expectRefusal("approval \(id) is withdrawn already; it takes no more decisions") { try await desk.approve(id, as: "alice") }
        }
    }
}

@Suite("Approvals across worker deaths and days", .tags(.database, .process))
struct DurableApprovalTests {
    @Test func anApprovalSurvivesEveryWorkerKilledAndItsDeadlinesFireDaysLater() async throws {
        try await withMigratedStore { store, clockwork in
            try await ScratchFolder.with("baton-approvals") { folder in
                let environment = ["BATON_DATABASE_URL": clockwork.configuration.connectionString]
                let worker = BatonProcess(["worker", "--lease-seconds", "2", "--poll-milliseconds", "100"], environment: environment)
                func baton(_ arguments: String...) async throws -> BatonProcess.Result {
                    try await BatonProcess(arguments, environment: environment).run()
                }
                // 50 units cost 2,000: over the logistics policy's 1,000, so people decide.
                let approved = try await store.start(OrderDelay.self, context: .init(orderID: "ORD-5001", quantity: 50)).runID
                let ignored = try await store.start(OrderDelay.self, context: .init(orderID: "ORD-5003", quantity: 60)).runID
                func state(of run: UUID) async throws -> String? { try await store.run(run).map { "\($0.status) \($0.state)" } }
                func waitFor(_ run: UUID, _ expected: String) async throws -> Bool {
                    try await eventually { try await state(of: run) == expected }
                }
                var running = try worker.start(log: folder.appending(path: "first.log").path)
                #expect(try await waitFor(approved, "waiting approveReroute"))
                #expect(try await waitFor(ignored, "waiting approveReroute"))
                kill(running.pid, SIGKILL)
                _ = await running.exitStatus()

                // With no worker alive, the approvals are listed and one is decided.
                let listed = try await baton("approvals", "--role", "logistics", "--json")
                #expect(listed.status == 0, "\(listed.standardError)")
                let approvals = try JSONDecoder.iso8601.decode([ApprovalSummary].self, from: Data(listed.standardOutput.utf8))
                #expect(Set(approvals.map(\.runID)) == [approved, ignored])
                let toApprove = try #require(approvals.first { $0.runID == approved })
                #expect(toApprove.action.amount == 2_000)
                #expect(toApprove.action.payload?.hasPrefix(#"{"cost":2000,"plan":"Reroute 50 units of ORD-5001 via "#) == true)
                // Payloads are printed as the JSON they are, not as strings of JSON.
                let listedJSON = try JSONSerialization.jsonObject(with: Data(listed.standardOutput.utf8)) as? [[String: Any]]
                #expect(listedJSON?.count == 2)
                #expect(listedJSON?.allSatisfy { (($0["action"] as? [String: Any])?["payload"] as? [String: Any])?["plan"] is String } == true)
                let refused = try await baton("approve", toApprove.id.uuidString, "--as", "carol")
                #expect(refused.status == 1)
                #expect(refused.standardError == "baton: carol holds none of the roles approval \(toApprove.id) waits for now (logistics)\n")
                let edit = #"{"plan": "Reroute 50 units of ORD-5001 via Hamburg", "cost": 1900}"#
                let decided = try await baton("approve", toApprove.id.uuidString, "--as", "alice", "--comment", "Hamburg is cheaper", "--edit", edit)
                #expect(decided.status == 0, "\(decided.standardError)")
                #expect(decided.standardOutput == "approval \(toApprove.id) is approved; run \(approved) goes on.\n")
                let approvedList = try await baton("approvals", "--status", "approved", "--json")
                let approvedJSON = try JSONSerialization.jsonObject(with: Data(approvedList.standardOutput.utf8)) as? [[String: Any]]
                #expect((approvedJSON?.first?["editedPayload"] as? [String: Any])?["cost"] as? Int == 1_900)
                let decidedSummary = try #require(try JSONDecoder.iso8601.decode([ApprovalSummary].self, from: Data(approvedList.standardOutput.utf8)).first)
                #expect(decidedSummary.editedPayload == #"{"cost":1900,"plan":"Reroute 50 units of ORD-5001 via Hamburg"}"#)

                let again = try await baton("reject", toApprove.id.uuidString, "--as", "bob", "--reason", "too dear")
                #expect(again.status == 1)
                #expect(again.standardError == "baton: approval \(toApprove.id) is approved already; it takes no more decisions\n")
                let badStatus = try await baton("approvals", "--status", "maybe")
                #expect(badStatus.status == 1)
                #expect(badStatus.standardError.hasPrefix("baton: unknown approval status maybe (pending, approved,"))
                let suggestions = try await baton("suggestions", "--json")
                #expect(suggestions.status == 0)
                #expect(try JSONDecoder.iso8601.decode([ApprovalSummary].self, from: Data(suggestions.standardOutput.utf8)).isEmpty)

                // Two days on, a new worker carries the approved run on and escalates the other.
                _ = try await clockwork.store(at: "2 days")
                running = try worker.start(log: folder.appending(path: "second.log").path)
                #expect(try await waitFor(approved, "waiting awaitCarrier"))
                #expect(try await eventually { try await store.journal(of: ignored).last?.record.kind == .approvalEscalated })
                kill(running.pid, SIGKILL)
                _ = await running.exitStatus()
                let context = try #require(try await store.run(approved)).decodeContext(as: OrderDelay.self)
                #expect(context.plan == "Reroute 50 units of ORD-5001 via Hamburg")
                #expect(context.rerouteCost == 1_900)
                let opsLead = try await baton("approvals", "--role", "ops-lead", "--json")
                #expect(try JSONDecoder.iso8601.decode([ApprovalSummary].self, from: Data(opsLead.standardOutput.utf8)).map(\.runID) == [ignored])

                // Past ops-lead's hour too: the policy rejects it, which cancels the order.
                _ = try await clockwork.store(at: "2 days 2 hours")
                running = try worker.start(log: folder.appending(path: "third.log").path)
                #expect(try await waitFor(ignored, "cancelled cancelled"))
                kill(running.pid, SIGTERM)
                #expect(await running.exitStatus() == 0)
                #expect(try await store.journal(of: ignored).map(\.record.description).filter { $0.hasPrefix("approval") || $0.contains("approveReroute ->") } == [
                    "approval-requested approveReroute (require-approval: logistics)",
                    "approval-escalated approveReroute (to ops-lead)",
                    "approval-expired approveReroute (rejected at the deadline)",
                    "transition approveReroute -> cancelled (rejected)",
                ])
                let audit = try await clockwork.connection.query("""
                    SELECT happened || coalesce(' by ' || actor || ' (' || role || '): ' || comment, '') FROM baton.approval_audit ORDER BY at, happened
                    """)
                #expect(Set(try audit.map { try $0.decode(String.self, at: 0) }) == [
                    "requested", "approved by alice (logistics): Hamburg is cheaper", "escalated", "expired",
                ])
                #expect(try await store.verify().mismatches.isEmpty)
            }
        }
    }
}

extension JSONDecoder {
    /// Reads what `baton … --json` prints: dates in ISO 8601.
    static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
