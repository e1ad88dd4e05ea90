import Foundation
import LibPQ

/// What the database has seen so far, read at the edges of a measurement window: its
/// clock, WAL position, transactions that wrote (the next transaction id: statistics
/// counters lag by up to a second), and journaled steps, transitions and finished runs.
struct EngineCounters {
    let time: Date
    let walBytes: Int
    let commits: Int
    let steps: Int
    let transitions: Int
    let finished: Int

    static func read(_ connection: PostgresConnection) async throws -> EngineCounters {
        let row = try await connection.query("""
            SELECT clock_timestamp(), pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint,
                   pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
                   count(*) FILTER (WHERE kind = 'step-completed'), count(*) FILTER (WHERE kind = 'transition'),
                   count(*) FILTER (WHERE kind = 'run-finished')
            FROM baton.journal
            """)[0]
        return EngineCounters(
            time: try row.decode(Date.self, at: 0), walBytes: try row.decode(Int.self, at: 1),
            commits: try row.decode(Int.self, at: 2), steps: try row.decode(Int.self, at: 3),
            transitions: try row.decode(Int.self, at: 4), finished: try row.decode(Int.self, at: 5)
        )
    }
}
