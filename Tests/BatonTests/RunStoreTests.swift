import Baton
import BatonTesting
import Foundation
import LibPQ
import Testing

@Suite("Runs and their journal in PostgreSQL", .tags(.database))
struct RunStoreTests {
    let versions = [(name: Shipment.name, version: Shipment.version)]
    let shipment = Shipment.Context(inStock: 0, plan: nil)

    @Test func startingWritesTheRunAndItsFirstJournalEntryTogether() async throws {
        try await withMigratedStore { store, _ in
            let started = try await store.start(Shipment.self, context: shipment)
            #expect(started.created)
            let run = try #require(try await store.run(started.runID))
            #expect(run.state == "assess")
            #expect(run.status == "runnable")
            #expect((run.visit, run.seq) == (1, 1))
            #expect(try run.decodeContext(as: Shipment.self).inStock == 0)
            let journal = try await store.journal(of: started.runID)
            #expect(journal.map(\.record.description) == ["run-started assess"])
            #expect(journal.map(\.seq) == [1])
        }
    }

    @Test func aClaimLeavesItsConnectionCommittingDurably() async throws {
        try await withMigratedStore { store, clockwork in
            // The claim commits without waiting for its WAL flush, for its own
            // transaction only: the connection's later commits must still wait for theirs.
            let connection = clockwork.connection
            try await connection.runScript("SET synchronous_commit = on")
            _ = try await store.start(Shipment.self, context: shipment)
            #expect(try await store.bound(to: connection).claim(versions: versions, limit: 1, lease: .seconds(30)).count == 1)
            #expect(try await connection.query("SHOW synchronous_commit").scalar(String.self) == "on")
            #expect(try await connection.query("SELECT count(*) FROM baton.runs WHERE lease_owner = 'a'").scalar(Int.self) == 1)
        }
    }

    @Test func concurrentStartsWithOneBusinessKeyMakeOneRun() async throws {
        try await withMigratedStore { store, clockwork in
            let connection = clockwork.connection
            let starts = try await withThrowingTaskGroup(of: RunStore.Started.self) { group in
                for _ in 0..<10 {
                    group.addTask { try await store.start(Shipment.self, context: shipment, businessKey: "order-42") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(starts.map(\.runID)).count == 1)
            #expect(starts.filter(\.created).count == 1)
            #expect(try await connection.query("SELECT count(*) FROM baton.runs").scalar(Int.self) == 1)
            #expect(try await connection.query("SELECT count(*) FROM baton.journal").scalar(Int.self) == 1)
        }
    }

    @Test func twoWorkersClaimDisjointRunsAndALeaseHoldsUntilItExpires() async throws {
        try await withMigratedStore { store, clockwork in
            for _ in 0..<6 { _ = try await store.start(Shipment.self, context: shipment) }
            let other = RunStore(pool: store.pool, workerID: "b")
            async let first = store.claim(versions: versions, limit: 4, lease: .seconds(30))
            async let second = other.claim(versions: versions, limit: 4, lease: .seconds(30))
            let (mine, theirs) = try await (first, second)
            #expect(mine.count + theirs.count == 6)
            #expect(Set(mine.map(\.id)).isDisjoint(with: theirs.map(\.id)))
            #expect(try await other.claim(versions: versions, limit: 10, lease: .seconds(30)).isEmpty)
            // A worker that runs only other versions sees nothing.
            #expect(try await other.claim(versions: [(name: "shipment", version: 7)], limit: 10, lease: .seconds(30)).isEmpty)

            let later = try await clockwork.store(at: "1 minute", worker: "c")
            let takenOver = try await later.claim(versions: versions, limit: 10, lease: .seconds(30))
            #expect(takenOver.count == 6)
            #expect(takenOver.allSatisfy { $0.leaseOwner == "c" })
        }
    }

    @Test func aHeartbeatRenewsFreeLeasesAtOnceAndWaitsForABusyRowAlone() async throws {
        try await withMigratedStore { store, clockwork in
            for _ in 0..<4 { _ = try await store.start(Shipment.self, context: shipment) }
            let runs = try await store.claim(versions: versions, limit: 4, lease: .seconds(30)).map(\.id)
            #expect(runs.count == 4)
            // Another session holds one run's row, as a batch of moves does until it commits.
            let holder = try await PostgresConnection.connect(to: clockwork.configuration)
            try await holder.runScript("BEGIN")
            _ = try await holder.query("SELECT id FROM baton.runs WHERE id = \(runs[0]) FOR UPDATE")
            let heartbeat = Task { try await store.renewLeases(runs, lease: .seconds(600)) }
            // The other three leases are renewed and committed while that row is held: the
            // heartbeat holds no row while it waits for one.
            #expect(try await eventually(within: .seconds(10)) {
                try await clockwork.connection.query("""
                    SELECT count(*) FROM baton.runs WHERE id <> \(runs[0]) AND lease_expires_at > now() + interval '5 minutes'
                    """).scalar(Int.self) == 3
            })
            // So the holder takes a row the heartbeat renewed, with no deadlock, and commits.
            _ = try await holder.query("SELECT id FROM baton.runs WHERE id = \(runs[1]) FOR UPDATE")
            try await holder.runScript("COMMIT")
            await holder.close()
            #expect(try await heartbeat.value == Set(runs))
            let renewed = try await clockwork.connection.query("""
                SELECT count(*) FROM baton.runs WHERE lease_owner = 'a' AND lease_expires_at > now() + interval '5 minutes'
                """).scalar(Int.self)
            #expect(renewed == 4)
        }
    }

    @Test func aCommittedTransitionMovesTheRunAndJournalsInOneStep() async throws {
        try await withMigratedStore { store, clockwork in
            let connection = clockwork.connection
            let id = try await store.start(Shipment.self, context: shipment).runID
            let claimed = try #require(try await store.claim(versions: versions, limit: 1, lease: .seconds(30)).first)
            var position = try claimed.position(in: Shipment.self)
            var seq = claimed.seq
            for next in [Shipment.State.plan, .awaitCarrier] {
                let result = try Shipment.definition.transition(from: position, on: .actionReturned(next))
                #expect(try await store.commit(result, of: id, expectedSeq: seq, context: Shipment.Context(inStock: 0, plan: "reroute")) != nil)
                position = result.position
                seq += result.records.count
            }
            let run = try #require(try await store.run(id))
            #expect((run.state, run.status, run.visit, run.seq) == ("awaitCarrier", "waiting", 3, 3))
            #expect(try run.decodeContext(as: Shipment.self).plan == "reroute")
            let waits = try await connection.query("""
                SELECT waiting_for ? 'confirmed', wake_at - baton.current_time() BETWEEN interval '59 minutes' AND interval '60 minutes'
                FROM baton.runs WHERE id = \(id)
                """)[0]
            #expect(try waits.decode(Bool.self, at: 0))
            #expect(try waits.decode(Bool.self, at: 1))
            #expect(try await store.journal(of: id).map(\.record.description) == [
                "run-started assess",
                "transition assess -> plan (returned)",
                "transition plan -> awaitCarrier (returned)",
            ])
            // Finishing releases the lease and stamps the end.
            let done = try Shipment.definition.transition(from: position, on: .eventReceived(name: "confirmed"))
            #expect(try await store.commit(done, of: id, expectedSeq: seq, context: shipment) != nil)
            let finished = try #require(try await store.run(id))
            #expect((finished.status, finished.seq, finished.leaseOwner) == ("succeeded", 6, nil))
            #expect(try await connection.query("SELECT finished_at IS NOT NULL FROM baton.runs WHERE id = \(id)").scalar(Bool.self))
        }
    }

    @Test func staleWritersAreFencedOutAndWriteNothing() async throws {
        try await withMigratedStore { store, clockwork in
            let id = try await store.start(Shipment.self, context: shipment).runID
            let claimed = try #require(try await store.claim(versions: versions, limit: 1, lease: .seconds(30)).first)
            let result = try Shipment.definition.transition(from: try claimed.position(in: Shipment.self), on: .actionReturned(.plan))

            // Not the lease owner.
            #expect(try await RunStore(pool: store.pool, workerID: "intruder").commit(result, of: id, expectedSeq: 1, context: shipment) == nil)
            // The owner, but expecting a seq that is no longer the newest.
            #expect(try await store.commit(result, of: id, expectedSeq: 0, context: shipment) == nil)
            // The owner after its lease expired (another worker may have taken over).
            let later = try await clockwork.store(at: "1 minute", worker: "a")
            #expect(try await later.commit(result, of: id, expectedSeq: 1, context: shipment) == nil)

            let run = try #require(try await store.run(id))
            #expect((run.state, run.seq) == ("assess", 1))
            #expect(try await store.journal(of: id).count == 1)
        }
    }

    @Test func theJournalRefusesUpdateDeleteAndTruncate() async throws {
        try await withMigratedStore { store, clockwork in
            let connection = clockwork.connection
            let id = try await store.start(Shipment.self, context: shipment).runID
            for statement: PostgresQuery in [
                "UPDATE baton.journal SET reason = 'rewritten' WHERE run_id = \(id)",
                "DELETE FROM baton.journal WHERE run_id = \(id)",
                "TRUNCATE baton.journal CASCADE",
            ] {
                let error = await #expect(throws: PostgresError.self) { try await connection.query(statement) }
                #expect(error?.sqlState == .insufficientPrivilege)
                #expect(error?.message.contains("append-only") == true)
            }
            #expect(try await store.journal(of: id).count == 1)
        }
    }
}
