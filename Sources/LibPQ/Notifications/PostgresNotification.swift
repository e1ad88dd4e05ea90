/// A message sent with `NOTIFY channel, 'payload'` (or `pg_notify`).
public struct PostgresNotification: Sendable, Hashable {
    public let channel: String
    public let payload: String
    /// The server process of the session that sent it.
    public let senderPID: Int32
}
