import Foundation

/// A state that starts child runs of another workflow and waits for them, holding no
/// worker: for all of them (``ChildrenWait/all``), or for the first to finish
/// (``ChildrenWait/first``, and the others are cancelled).
///
/// ```swift
/// Children(.deliverParts, of: PartDelivery.self, then: .assemble, onFailure: .escalate,
///          start: { order in order.parts.map { PartDelivery.Context(part: $0) } },
///          collect: { order, deliveries in order.delivered = deliveries.map(\.context.part) })
/// ```
/// The children start in the same transaction as the parent's transition into this
/// state. When they are done the run goes to `then` if every awaited child succeeded,
/// else to `onFailure`; `collect` folds the children's final contexts into the
/// parent's. Cancelling the parent cancels its children.
public struct Children<W: Workflow>: Sendable {
    let definition: StateDefinition<W>

    public init<Child: Workflow>(
        _ state: W.State,
        of child: Child.Type,
        waitFor: ChildrenWait = .all,
        then next: W.State,
        onFailure failed: W.State,
        start: @escaping @Sendable (W.Context) -> [Child.Context],
        collect: @escaping @Sendable (inout W.Context, [ChildResult<Child>]) throws -> Void
    ) {
        let spec = ChildrenSpec<W>(
            childType: Child.self, waitFor: waitFor, next: next, failed: failed,
            contexts: { parent in try start(parent).map { try RunStore.encode($0) } },
            collect: { parent, finished in
                try collect(&parent, try finished.map { result in
                    ChildResult<Child>(
                        runID: result.runID, outcome: result.outcome,
                        context: try JSONDecoder().decode(Child.Context.self, from: Data(result.context.utf8))
                    )
                })
            }
        )
        definition = StateDefinition(state: state, kind: .children(spec))
    }
}

/// Which children a ``Children`` state waits for.
public enum ChildrenWait: String, Sendable, Codable {
    /// Every child finishes.
    case all
    /// The first child to finish; the others are cancelled.
    case first
}

/// A finished child run, as ``Children``'s `collect` sees it.
public struct ChildResult<Child: Workflow>: Sendable {
    public let runID: UUID
    public let outcome: Outcome
    /// The child's context when it finished.
    public let context: Child.Context
}

/// A ``Children`` declaration with its child type erased, for the runtime.
struct ChildrenSpec<W: Workflow>: Sendable {
    /// A finished child as stored: its id, outcome and context as JSON.
    struct Finished: Sendable {
        let runID: UUID
        let outcome: Outcome
        let context: String
    }

    let childType: any Workflow.Type
    let waitFor: ChildrenWait
    let next: W.State
    let failed: W.State
    /// The children's contexts, as JSON, for the parent's context.
    let contexts: @Sendable (W.Context) throws -> [String]
    let collect: @Sendable (inout W.Context, [Finished]) throws -> Void
}
