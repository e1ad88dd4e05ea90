import Foundation
import LibPQ

extension RunStore {
    /// The journaled output of a step (JSON text), if it completed.
    public func stepOutput(of runID: UUID, visit: Int, step: String) async throws -> String? {
        try await withConnection { connection in
            try await connection.query("""
                SELECT output::text FROM baton.step_outputs WHERE run_id = \(runID) AND visit = \(visit) AND step_name = \(step)
                """, prepared: true).first?.decode(String.self, at: 0)
        }
    }
}
