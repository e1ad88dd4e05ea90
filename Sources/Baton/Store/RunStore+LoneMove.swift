import Foundation
import LibPQ

extension RunStore {
    /// The most journal entries a move may carry to be applied on its own by
    /// ``loneMoveStatement(_:as:)``: one statement is prepared per entry count.
    static let loneMoveEntryLimit = 8

    /// Whether ``apply(_:as:on:)`` applies `moves` with ``loneMoveStatement(_:as:)``: one
    /// move that neither ends its run nor consumes an event (those also update the
    /// inbox and the parent, which only the batch statement does), with a few entries.
    static func goesAlone(_ moves: [RunMove]) -> Bool {
        guard moves.count == 1, let move = moves.first else { return false }
        return !move.row.isFinal && (1...loneMoveEntryLimit).contains(move.entries.count)
            && move.entries.allSatisfy { $0.eventID == nil }
    }

    /// The statement that applies one move, fenced like the batch statement, with plain
    /// parameters: an update by primary key and the journal rows from a `VALUES` list.
    /// Its answer has the batch statement's columns (id, cancel reason). A batch carries
    /// one move whenever no other run of its lane commits at that moment (always, with
    /// one run in flight), and for one move the batch statement's JSON unpacking and
    /// joins cost more than the writes. Server execution time of one move
    /// (`pg_stat_statements`, fsync off): 32-37 µs against 48-68 µs for the batch
    /// statement. With 1 run in flight every move goes alone: `ops/bench --sections
    /// engine` on a server with fsync off made 2,960-3,200 steps/s against 2,630-2,880.
    static func loneMoveStatement(_ move: RunMove, as workerID: String) -> PostgresQuery {
        let row = move.row
        let entries: [PostgresFragment] = move.entries.enumerated().map { offset, entry in
            """
            (\(offset + 1)::integer, \(entry.record.kind.rawValue)::text, \(entry.record.from)::text, \(entry.record.to)::text,
             \(entry.record.reason)::text, \(entry.record.error)::text, \(entry.record.step)::text, \(text(entry.visit))::integer,
             \(text(entry.attempt))::integer, \(text(entry.durationMilliseconds))::double precision, \(entry.payload)::jsonb,
             \(entry.model?.model)::text, \(text(entry.model?.tokensIn))::integer, \(text(entry.model?.tokensOut))::integer,
             \(text(entry.model?.costUSD))::numeric)
            """
        }
        return """
            WITH moved AS (
                UPDATE baton.runs r SET
                    state = \(row.state), status = \(row.status), visit = \(row.visit), context = \(row.context)::jsonb,
                    seq = \(move.expectedSeq + move.entries.count), waiting_for = \(row.waitingFor)::jsonb,
                    timeout_at = CASE WHEN \(row.keepsTimers) THEN r.timeout_at
                                      ELSE coalesce(to_timestamp(\(text(row.wakeAtEpochSeconds))::double precision),
                                                    baton.current_time() + make_interval(secs => \(text(row.wakeAfterSeconds))::double precision)) END,
                    -- As in the batch statement: a run that stays runnable keeps its wake_at.
                    wake_at = CASE WHEN \(row.keepsTimers) THEN r.wake_at
                                   WHEN \(row.status == "runnable") THEN least(r.wake_at, baton.current_time())
                                   ELSE coalesce(to_timestamp(\(text(row.wakeAtEpochSeconds))::double precision),
                                                 baton.current_time() + make_interval(secs => \(text(row.wakeAfterSeconds))::double precision)) END,
                    error = \(row.error), updated_at = baton.current_time(),
                    drive_failures = 0, last_drive_error = NULL, last_entry_is_step = \(move.lastEntryIsStep)
                WHERE r.id = \(move.runID) AND r.seq = \(move.expectedSeq)
                  AND r.lease_owner = \(workerID) AND r.lease_expires_at > baton.current_time()
                RETURNING r.id, r.cancel_reason, r.context
            ), journaled AS (
                INSERT INTO baton.journal (run_id, seq, kind, state_from, state_to, reason, error, step_name, visit, attempt,
                                           duration_ms, payload, worker_id, model, tokens_in, tokens_out, cost_usd)
                SELECT moved.id, \(move.expectedSeq) + e.n, e.kind, e.state_from, e.state_to, e.reason, e.error, e.step, e.visit,
                       e.attempt, e.duration_ms, CASE WHEN e.kind = 'transition' THEN moved.context ELSE e.payload END,
                       \(workerID), e.model, e.tokens_in, e.tokens_out, e.cost_usd
                FROM moved, (VALUES \(entries, separator: ", ")) AS e(
                    n, kind, state_from, state_to, reason, error, step, visit, attempt, duration_ms, payload,
                    model, tokens_in, tokens_out, cost_usd)
            )
            SELECT id, cancel_reason FROM moved
            """
    }

    /// `value` as text: a nil and a value then bind as the same (unspecified) type, so
    /// the statement is prepared once whichever of its values are nil.
    private static func text(_ value: (some CustomStringConvertible)?) -> String? {
        value.map(\.description)
    }
}
