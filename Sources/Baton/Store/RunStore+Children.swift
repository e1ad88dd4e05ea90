import Foundation
import LibPQ

extension RunStore {
    /// A parent's children: how many there are, and those that finished, in the
    /// order they finished.
    func children<W: Workflow>(of parentID: UUID, for workflow: W.Type) async throws -> (count: Int, finished: [ChildrenSpec<W>.Finished]) {
        try await withConnection { connection in
            let rows = try await connection.query("""
                SELECT id, status, context::text FROM baton.runs WHERE parent_run_id = \(parentID)
                ORDER BY finished_at NULLS LAST, created_at
                """)
            let finished = try rows.compactMap { row -> ChildrenSpec<W>.Finished? in
                guard let outcome = Outcome(rawValue: try row.decode(String.self, at: 1)) else { return nil }
                return ChildrenSpec<W>.Finished(runID: try row.decode(UUID.self, at: 0), outcome: outcome, context: try row.decode(String.self, at: 2))
            }
            return (rows.count, finished)
        }
    }

    /// Cancels the parent's children that have not finished (after the first of them
    /// finished, for ``ChildrenWait/first``), on the transition's connection.
    func cancelUnfinishedChildren(of parentID: UUID, reason: String, on connection: PostgresConnection) async throws {
        try await connection.query("""
            UPDATE baton.runs SET cancel_reason = \(reason),
                wake_at = CASE WHEN status = 'waiting' THEN baton.current_time() ELSE wake_at END
            WHERE parent_run_id = \(parentID) AND status IN ('runnable', 'waiting')
            RETURNING pg_notify(\(Self.readyChannel), '')
            """)
    }

    /// The write that starts the children of `state` for `parentID` from the parent's
    /// context: run inside the transaction of the parent's transition into `state`
    /// (or of its start), so the children exist exactly when that commits.
    func startingChildren<W: Workflow>(
        _ workflow: W.Type, of parentID: UUID, in state: W.State, context: W.Context
    ) throws -> TransitionWrite {
        guard case .children(let spec)? = W.builtDefinition.definition(of: state)?.kind else {
            throw BatonError(.storedRun, "run \(parentID) entered \(state.rawValue), which is not a children state")
        }
        let (contexts, childType, store) = (try spec.contexts(context), spec.childType, self)
        return { connection in
            for childContext in contexts {
                try await store.startChild(childType, context: childContext, parent: parentID, on: connection)
            }
            if contexts.isEmpty {
                // No child will wake the parent: it goes on at once.
                try await connection.query("UPDATE baton.runs SET wake_at = baton.current_time() WHERE id = \(parentID)")
            }
        }
    }

    /// Starts one child run of `child` from its context as JSON.
    private func startChild<Child: Workflow>(
        _ child: Child.Type, context: String, parent: UUID, on connection: PostgresConnection
    ) async throws {
        let decoded = try JSONDecoder().decode(Child.Context.self, from: Data(context.utf8))
        _ = try await start(Child.self, context: decoded, businessKey: nil, parent: parent, on: connection)
    }
}
