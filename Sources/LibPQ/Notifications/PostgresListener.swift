import CLibPQ
import Foundation
import Synchronization

/// Listens on one or more channels and delivers their notifications, in the order
/// the server sends them, as an `AsyncSequence`.
///
/// ```swift
/// let listener = try await PostgresListener.listen(to: ["runs_ready"], configuration: configuration)
/// for try await notification in listener.notifications { … }
/// ```
/// A listener owns a connection, whose thread waits on the socket. `listen` returns
/// once `LISTEN` is in effect, so nothing sent after it returns is missed. If the
/// connection breaks, the sequence ends with ``PostgresError/Code-swift.struct/connectionLost``;
/// PostgreSQL does not replay notifications sent while no one listened, so callers
/// look for missed work once after they listen again.
public final class PostgresListener: Sendable {
    /// The notifications, until ``stop()`` or the connection breaks.
    public let notifications: AsyncThrowingStream<PostgresNotification, any Error>
    private let wakeUp: WakeUpPipe

    private init(notifications: AsyncThrowingStream<PostgresNotification, any Error>, wakeUp: WakeUpPipe) {
        self.notifications = notifications
        self.wakeUp = wakeUp
    }

    /// Connects, runs `LISTEN` for each channel, and starts delivering.
    public static func listen(to channels: [String], configuration: PostgresConfiguration) async throws -> PostgresListener {
        let connection = try await PostgresConnection.connect(to: configuration)
        for channel in channels {
            try await connection.listen(on: channel)
        }
        let wakeUp = try WakeUpPipe()
        let (stream, continuation) = AsyncThrowingStream<PostgresNotification, any Error>.makeStream()
        continuation.onTermination = { _ in wakeUp.signal() }
        Task {
            do {
                while let batch = try await connection.waitForNotifications(orWakeUpOn: wakeUp.readEnd) {
                    batch.forEach { continuation.yield($0) }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
            await connection.close()
            wakeUp.close()
        }
        return PostgresListener(notifications: stream, wakeUp: wakeUp)
    }

    /// Stops listening, ends the sequence and closes the connection.
    public func stop() {
        wakeUp.signal()
    }

    deinit {
        wakeUp.signal()
    }
}

extension PostgresConnection {
    /// `LISTEN` on a channel, its name quoted as an identifier.
    func listen(on channel: String) throws {
        let handle = try liveHandle(for: nil)
        guard let quoted = PQescapeIdentifier(handle, channel, channel.utf8.count) else {
            throw PostgresError(code: .invalidParameter, message: "invalid channel name \"\(channel)\"")
        }
        defer { PQfreemem(quoted) }
        try runScript("LISTEN " + String(cString: quoted))
    }

    /// Blocks this connection's own thread until notifications arrive (returns them)
    /// or `wakeUpDescriptor` becomes readable (returns nil).
    func waitForNotifications(orWakeUpOn wakeUpDescriptor: Int32) throws -> [PostgresNotification]? {
        let handle = try liveHandle(for: nil)
        var descriptors = [
            pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeUpDescriptor, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            guard poll(&descriptors, 2, -1) >= 0 || errno == EINTR else { throw connectionError(query: nil) }
            if descriptors[1].revents != 0 { return nil }
            guard descriptors[0].revents != 0 else { continue }
            guard PQconsumeInput(handle) == 1, PQstatus(handle) == CONNECTION_OK else {
                throw connectionError(query: nil)
            }
            var batch: [PostgresNotification] = []
            while let notification = PQnotifies(handle) {
                batch.append(PostgresNotification(
                    channel: String(cString: notification.pointee.relname),
                    payload: String(cString: notification.pointee.extra),
                    senderPID: notification.pointee.be_pid
                ))
                PQfreemem(notification)
            }
            if !batch.isEmpty { return batch }
        }
    }
}

/// A pipe whose write end wakes the listening thread's `poll` at once.
private final class WakeUpPipe: Sendable {
    let readEnd: Int32
    private let writeEnd: Int32
    private let isClosed = Mutex(false)

    init() throws {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            throw PostgresError(code: .connectionFailed, message: "could not create a pipe: errno \(errno)")
        }
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    func signal() {
        isClosed.withLock { closed in
            guard !closed else { return }
            var byte: UInt8 = 1
            _ = write(writeEnd, &byte, 1)
        }
    }

    /// Called once, by the listening task when it is done.
    func close() {
        isClosed.withLock { closed in
            guard !closed else { return }
            closed = true
            Glibc.close(readEnd)
            Glibc.close(writeEnd)
        }
    }
}
