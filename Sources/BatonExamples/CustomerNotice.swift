import Baton

/// Drafts the message that tells a customer their delayed order is on its way: the
/// child run `order-delay` starts once the shipment is booked. The draft is a model
/// call (task `draft`), journaled with its model, tokens and cost.
public struct CustomerNotice: Workflow {
    public static let name = "customer-notice"
    public static let version = 1

    public struct Context: Codable, Sendable {
        public var orderID: String
        public var trackingNumber: String
        public var message: String?

        public init(orderID: String, trackingNumber: String) {
            self.orderID = orderID
            self.trackingNumber = trackingNumber
        }
    }

    public enum State: String, WorkflowState { case draft, sent }

    public static var definition: Definition<Self> {
        Definition(initial: .draft) {
            Action(.draft, to: .sent) { run in
                let (order, tracking) = (run.context.orderID, run.context.trackingNumber)
                // Drafted by a model (the rule-based one's template offline).
                run.context.message = try await run.model("draft-message", task: "draft", ChatRequest(
                    system: "You write short, warm messages to customers of a logistics company. Plain text, two sentences at most.",
                    prompt: "Good news: order \(order) is on its way again. Track it with \(tracking).",
                    maxTokens: 120
                )).text
                return .sent
            }
            Terminal(.sent)
        }
    }
}
