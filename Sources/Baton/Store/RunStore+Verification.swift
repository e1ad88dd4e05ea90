import Foundation
import LibPQ

/// A run whose row is not the fold of its journal.
public struct VerificationMismatch: Sendable, Hashable, Codable, CustomStringConvertible {
    public let runID: UUID
    /// What differs: `state`, `status`, `seq`, `visit`, `context` or `journal` (gaps).
    public let field: String
    public let row: String
    public let journal: String

    public var description: String { "run \(runID): \(field) is \(row) in baton.runs but \(journal) by its journal" }
}

extension RunStore {
    /// Re-derives each run's state, status, seq, visit and context from its journal
    /// and compares them with its row: one run, or every run when `runID` is nil.
    /// Returns every difference; none means the rows are the fold of their journals.
    public func verify(_ runID: UUID? = nil) async throws -> (runs: Int, mismatches: [VerificationMismatch]) {
        try await withConnection { connection in
            let rows = try await connection.query("""
                WITH folded AS (
                    SELECT j.run_id,
                           count(*) AS entries,
                           max(j.seq) AS last_seq,
                           count(*) FILTER (WHERE j.kind IN ('run-started', 'transition')) AS visits,
                           (array_agg(j.state_to ORDER BY j.seq DESC) FILTER (WHERE j.kind IN ('run-started', 'transition')))[1] AS state,
                           (array_agg(j.payload ORDER BY j.seq DESC) FILTER (WHERE j.kind IN ('run-started', 'transition')))[1] AS context,
                           (array_agg(split_part(j.reason, ':', 1) ORDER BY j.seq DESC) FILTER (WHERE j.kind = 'run-finished'))[1] AS outcome
                    FROM baton.journal j
                    WHERE \(runID)::uuid IS NULL OR j.run_id = \(runID)
                    GROUP BY j.run_id
                )
                SELECT r.id,
                       r.state, coalesce(f.state, '(none)'),
                       r.status, coalesce(f.outcome, 'unfinished'),
                       r.seq, coalesce(f.last_seq, 0), coalesce(f.entries, 0),
                       r.visit, coalesce(f.visits, 0),
                       r.context::text, coalesce(f.context::text, '(none)'), r.context = f.context
                FROM baton.runs r LEFT JOIN folded f ON f.run_id = r.id
                WHERE \(runID)::uuid IS NULL OR r.id = \(runID)
                """)
            var mismatches: [VerificationMismatch] = []
            for row in rows {
                let id = try row.decode(UUID.self, at: 0)
                func check(_ field: String, _ stored: String, _ derived: String, matches: Bool) {
                    if !matches { mismatches.append(VerificationMismatch(runID: id, field: field, row: stored, journal: derived)) }
                }
                let (state, derivedState) = (try row.decode(String.self, at: 1), try row.decode(String.self, at: 2))
                check("state", state, derivedState, matches: state == derivedState)
                let (status, outcome) = (try row.decode(String.self, at: 3), try row.decode(String.self, at: 4))
                check("status", status, outcome, matches: outcome == "unfinished" ? ["runnable", "waiting"].contains(status) : status == outcome)
                let (seq, lastSeq, entries) = (try row.decode(Int.self, at: 5), try row.decode(Int.self, at: 6), try row.decode(Int.self, at: 7))
                check("seq", "\(seq)", "\(lastSeq)", matches: seq == lastSeq)
                check("journal", "\(lastSeq) as last seq", "\(entries) entries", matches: entries == lastSeq)
                let (visit, visits) = (try row.decode(Int.self, at: 8), try row.decode(Int.self, at: 9))
                check("visit", "\(visit)", "\(visits)", matches: visit == visits)
                let contextMatches = try row.decode(Bool?.self, at: 12) ?? false
                check("context", try row.decode(String.self, at: 10), try row.decode(String.self, at: 11), matches: contextMatches)
            }
            return (rows.count, mismatches)
        }
    }
}
