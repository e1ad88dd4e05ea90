import Foundation
import LibPQ

extension RunStore {
    /// How a step ended, as its journal entry records it.
    public enum StepOutcome: Sendable {
        case completed(output: String)
        case failed(error: String)
    }

    /// The journaled output of a step (JSON text), if it completed.
    public func stepOutput(of runID: UUID, visit: Int, step: String) async throws -> String? {
        try await pool.withConnection { connection in
            try await connection.query("""
                SELECT output::text FROM baton.step_outputs WHERE run_id = \(runID) AND visit = \(visit) AND step_name = \(step)
                """).first?.decode(String.self, at: 0)
        }
    }

    /// Journals a step's end (and, if it completed, its output under its idempotency
    /// key), fenced like a transition. Returns false, having written nothing, when fenced out.
    public func recordStep(
        _ outcome: StepOutcome, step: String, of runID: UUID, visit: Int, state: String, attempt: Int,
        milliseconds: Double, expectedSeq: Int
    ) async throws -> Bool {
        let (kind, output, error): (String, String?, String?) = switch outcome {
        case .completed(let output): ("step-completed", output, nil)
        case .failed(let error): ("step-failed", nil, error)
        }
        return try await pool.withConnection { connection in
            try await connection.query("""
                WITH bumped AS (
                    UPDATE baton.runs SET seq = seq + 1, updated_at = baton.current_time()
                    WHERE id = \(runID) AND seq = \(expectedSeq)
                      AND lease_owner = \(workerID) AND lease_expires_at > baton.current_time()
                    RETURNING id
                ), stored AS (
                    INSERT INTO baton.step_outputs (run_id, visit, step_name, output, attempts)
                    SELECT id, \(visit), \(step), \(output)::jsonb, \(attempt) FROM bumped WHERE \(output)::jsonb IS NOT NULL
                )
                INSERT INTO baton.journal (run_id, seq, kind, state_from, step_name, attempt, payload, error, duration_ms, worker_id)
                SELECT id, \(expectedSeq) + 1, \(kind), \(state), \(step), \(attempt), \(output)::jsonb, \(error), \(milliseconds), \(workerID)
                FROM bumped
                """).affectedRows == 1
        }
    }
}
