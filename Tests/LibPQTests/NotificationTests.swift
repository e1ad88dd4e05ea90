import BatonTesting
import LibPQ
import Testing

@Suite("LISTEN and NOTIFY", .tags(.database))
struct NotificationTests {
    @Test func notificationsArriveInOrderOnAnotherConnection() async throws {
        try await TestDatabase.withFreshConnection { sender, configuration in
            let listener = try await PostgresListener.listen(to: ["runs ready", "other"], configuration: configuration)
            for index in 1...200 {
                try await sender.query("SELECT pg_notify(\("runs ready"), \("payload \(index) ✓"))")
            }
            try await sender.query("SELECT pg_notify('other', 'last')")
            var received: [PostgresNotification] = []
            for try await notification in listener.notifications {
                received.append(notification)
                if received.count == 201 { break }
            }
            #expect(received.prefix(200).map(\.payload) == (1...200).map { "payload \($0) ✓" })
            #expect(received.prefix(200).allSatisfy { $0.channel == "runs ready" })
            #expect(received.last?.channel == "other")
            #expect(received.last?.senderPID == (await sender.backendPID()))
            listener.stop()
        }
    }

    @Test func stoppingEndsTheSequence() async throws {
        try await TestDatabase.withFreshConnection { _, configuration in
            let listener = try await PostgresListener.listen(to: ["quiet"], configuration: configuration)
            listener.stop()
            var count = 0
            for try await _ in listener.notifications { count += 1 }
            #expect(count == 0)
        }
    }
}
