import Foundation
import LibPQ

/// An event in a run's inbox.
public struct InboxEvent: Sendable, Hashable {
    public let id: Int
    public let name: String
    /// The event's data as JSON text, if it has any.
    public let payload: String?
}

extension RunStore {
    /// Puts an event in the run's inbox; a run waiting for it wakes at once. Events a
    /// run does not wait for yet are kept, in order, until it does.
    ///
    /// Refused, with nothing written, for an unknown or finished run, and for names
    /// starting with `baton.` (Baton's own events, such as approval decisions).
    public func send(_ name: String, to runID: UUID, payload: String? = nil) async throws {
        guard !name.isEmpty else { throw BatonError(.invalidRequest, "an event needs a name") }
        guard !name.hasPrefix(Self.reservedEventPrefix) else {
            throw BatonError(.invalidRequest, "event names starting with \(Self.reservedEventPrefix) are Baton's own; pick another name")
        }
        if let payload { try checkSize(of: payload, "the event's data") }
        try await withConnection { connection in
            try await connection.withTransaction { connection in
                try await Self.deliver(name, to: runID, payload: payload, on: connection)
            }
        }
    }

    /// The prefix of the event names Baton sends itself.
    static let reservedEventPrefix = "baton."

    /// Puts an event in the run's inbox and wakes the run if it waits for it, inside
    /// the caller's transaction on `connection`. Refused for an unknown or finished run.
    static func deliver(_ name: String, to runID: UUID, payload: String?, on connection: PostgresConnection) async throws {
        let status = try await connection
            .query("SELECT status FROM baton.runs WHERE id = \(runID) FOR UPDATE")
            .first?.decode(String.self, at: 0)
        guard let status else { throw BatonError(.invalidRequest, "there is no run \(runID)") }
        guard status == "runnable" || status == "waiting" else {
            throw BatonError(.invalidRequest, "run \(runID) has finished (\(status)); it takes no more events")
        }
        try await connection.query("INSERT INTO baton.events (run_id, name, payload) VALUES (\(runID), \(name), \(payload)::jsonb)")
        try await connection.query("""
            UPDATE baton.runs SET events_received = events_received + 1,
                wake_at = CASE WHEN status = 'waiting' AND waiting_for ? \(name) THEN baton.current_time() ELSE wake_at END
            WHERE id = \(runID)
            """)
        try await connection.query("SELECT pg_notify(\(readyChannel), '')")
    }

    /// The oldest unconsumed event among `names` in the run's inbox.
    public func oldestEvent(for runID: UUID, named names: [String]) async throws -> InboxEvent? {
        try await withConnection { connection in
            try await connection.query("""
                SELECT id, name, payload::text FROM baton.events
                WHERE run_id = \(runID) AND consumed_seq IS NULL AND name IN (SELECT jsonb_array_elements_text(\(try Self.encode(names))::jsonb))
                ORDER BY id LIMIT 1
                """, prepared: true).first.map {
                InboxEvent(id: try $0.decode(Int.self, at: 0), name: try $0.decode(String.self, at: 1), payload: try $0.decode(String?.self, at: 2))
            }
        }
    }

    /// Asks for the run, and every unfinished run below it (its children, theirs…), to
    /// be cancelled: a waiting run is cancelled by the next worker to see it (at once),
    /// a running one at its next transition. Refused for an unknown or finished run.
    public func requestCancel(_ runID: UUID, reason: String) async throws {
        try await withConnection { connection in
            let updated = try await connection.query("""
                WITH RECURSIVE tree AS (
                    SELECT id FROM baton.runs WHERE id = \(runID)
                    UNION ALL
                    SELECT child.id FROM baton.runs child JOIN tree ON child.parent_run_id = tree.id
                )
                UPDATE baton.runs SET cancel_reason = \(reason),
                    wake_at = CASE WHEN status = 'waiting' THEN baton.current_time() ELSE wake_at END
                WHERE id IN (SELECT id FROM tree) AND status IN ('runnable', 'waiting')
                RETURNING id, pg_notify(\(Self.readyChannel), '')
                """)
            guard !updated.contains(where: { (try? $0.decode(UUID.self, at: 0)) == runID }) else { return }
            let status = try await connection.query("SELECT status FROM baton.runs WHERE id = \(runID)").first?.decode(String.self, at: 0)
            throw BatonError(.invalidRequest, status.map { "run \(runID) has finished (\($0)); it can't be cancelled" } ?? "there is no run \(runID)")
        }
    }

}
