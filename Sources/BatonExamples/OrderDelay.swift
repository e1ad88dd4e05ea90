import Baton

/// A delayed order, the design brief's story: check stock; if short, draft a reroute
/// plan and have it approved (policy `logistics`: a reroute under 1,000 goes ahead,
/// a dearer one needs a `logistics` approver, escalating to `ops-lead`; a rejection
/// cancels the order), then wait for a carrier to confirm (a declined carrier sends
/// the run back to planning, no answer within ten minutes cancels it; the
/// confirmation names the carrier, `{"carrier": "Maersk"}`); book the shipment with
/// it, have a child run draft the customer's notice, let it settle for a moment (a
/// durable timer), done. A reroute costs 40 a unit.
///
/// The steps stand in for real systems with deterministic rules, so the example runs
/// offline: an order whose id ends in an even digit is in stock. A delay note, if the
/// order has one, is classified by a model (task `classify`) into the delay's cause.
public struct OrderDelay: Workflow {
    public static let name = "order-delay"
    public static let version = 1

    public struct Context: Codable, Sendable {
        public var orderID: String
        public var quantity: Int
        public var inStock: Int?
        public var plan: String?
        public var rerouteCost: Double?
        public var plansDrafted: Int?
        public var carrier: String?
        public var trackingNumber: String?
        public var customerNotice: String?
        /// What the carrier or the warehouse said about the delay, if anything.
        public var delayNote: String?
        /// The delay's cause, as a model classified the note: weather, strike, congestion, customs or other.
        public var delayCause: String?

        public init(orderID: String, quantity: Int, delayNote: String? = nil) {
            self.orderID = orderID
            self.quantity = quantity
            self.delayNote = delayNote
        }
    }

    public enum State: String, WorkflowState {
        case assess, plan, approveReroute, awaitCarrier, ship, notify, settle, done, cancelled
    }

    public static var definition: Definition<Self> {
        Definition(initial: .assess) {
            Action(.assess, to: .done, .plan) { run in
                let (order, quantity) = (run.context.orderID, run.context.quantity)
                let stock = try await run.step("check-inventory") { _ in
                    order.last.flatMap { Int(String($0)) }.map { $0 % 2 == 0 ? quantity : 0 } ?? 0
                }
                run.context.inStock = stock
                if let note = run.context.delayNote {
                    run.context.delayCause = try await run.model("classify-delay", task: "classify", ChatRequest(
                        system: #"Classify the cause of a shipping delay. Answer with JSON: {"label": one of "weather", "strike", "congestion", "customs", "other"}."#,
                        prompt: note, maxTokens: 20
                    ), as: DelayCause.self).label
                }
                return stock >= quantity ? .done : .plan
            }
            Action(.plan, to: .approveReroute) { run in
                let attempt = (run.context.plansDrafted ?? 0) + 1
                let (order, quantity) = (run.context.orderID, run.context.quantity)
                run.context.plan = try await run.step("draft-reroute-plan") { _ in
                    "Reroute \(quantity) units of \(order) via \(attempt == 1 ? "Rotterdam" : "Antwerp") (plan \(attempt))"
                }
                run.context.rerouteCost = Double(quantity) * 40
                run.context.plansDrafted = attempt
                return .approveReroute
            }
            Approval(
                .approveReroute, policy: "logistics",
                proposing: { order in
                    try ProposedAction(
                        kind: "reroute", amount: order.rerouteCost, subject: order.orderID, requestedBy: "order-delay",
                        payload: Reroute(plan: order.plan ?? "", cost: order.rerouteCost ?? 0)
                    )
                },
                approved: .awaitCarrier, rejected: .cancelled,
                apply: { order, action in
                    // An approver may edit the plan (another port, a better price).
                    let reroute = try action.decodePayload(Reroute.self)
                    guard !reroute.plan.isEmpty, reroute.cost >= 0 else { throw BatonError(.invalidRequest, "a reroute needs a plan and a cost of 0 or more") }
                    (order.plan, order.rerouteCost) = (reroute.plan, reroute.cost)
                }
            )
            Wait(
                .awaitCarrier,
                on: ["carrier-confirmed": .ship, "carrier-declined": .plan],
                timeout: .after(.seconds(600), goto: .cancelled),
                receive: { order, event in
                    if event.name == "carrier-confirmed" { order.carrier = try event.decode(CarrierConfirmation.self).carrier }
                }
            )
            Action(.ship, to: .notify) { run in
                let (order, carrier) = (run.context.orderID, run.context.carrier ?? "")
                run.context.trackingNumber = try await run.step("book-shipment") { attempt in
                    "TRK-\(carrier.prefix(3).uppercased())-\(order)-\(attempt.idempotencyKey.prefix(8).uppercased())"
                }
                return .notify
            }
            Children(
                .notify, of: CustomerNotice.self, then: .settle, onFailure: .settle,
                start: { order in [CustomerNotice.Context(orderID: order.orderID, trackingNumber: order.trackingNumber ?? "")] },
                collect: { order, notices in order.customerNotice = notices.first?.context.message }
            )
            Sleep(.settle, for: .seconds(2), then: .done)
            Terminal(.done)
            Terminal(.cancelled, outcome: .cancelled)
        }
    }
}

/// What a `carrier-confirmed` event carries.
public struct CarrierConfirmation: Codable, Sendable {
    public var carrier: String
}

/// The action `order-delay` proposes for approval.
public struct Reroute: Codable, Sendable {
    public var plan: String
    public var cost: Double
}

/// A model's classification of a delay note.
struct DelayCause: Codable {
    let label: String
}
