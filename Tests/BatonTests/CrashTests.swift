import Baton
import BatonExamples
import BatonTesting
import Foundation
import LibPQ
import Testing

@Suite("Crash recovery with real worker processes", .tags(.database, .process))
struct CrashTests {
    @Test func runsSurviveWorkersKilledAtRandomAndNoJournaledStepRunsAgain() async throws {
        try await withMigratedStore { store, clockwork in
            let connection = clockwork.connection
            try await ScratchFolder.with("baton-crash") { folder in
                let stepLog = folder.appending(path: "steps.log").path

                let runCount = 200
                try await connection.query("CREATE TABLE example_ledger (run_id uuid NOT NULL, state text NOT NULL)")
                // Half the runs have slow steps (journaled as soon as they end), half quick
                // ones (journaled with their transition).
                for index in 0..<runCount {
                    _ = try await store.start(TenSteps.self, context: .init(stepMilliseconds: index.isMultiple(of: 2) ? 30 : 2, ledger: true))
                }
                let worker = BatonProcess(
                    ["worker", "--concurrency", "8", "--lease-seconds", "1", "--poll-milliseconds", "100"],
                    environment: ["BATON_DATABASE_URL": clockwork.configuration.connectionString, "BATON_STEP_LOG": stepLog]
                )
                var started = 0
                var logs: [Int32: String] = [:]
                func startWorker() throws -> ChildProcess {
                    started += 1
                    let log = folder.appending(path: "worker-\(started).log").path
                    let process = try worker.start(log: log)
                    logs[process.pid] = log
                    return process
                }
                var workers = try (0..<3).map { _ in try startWorker() }

                // Kill a random worker at random moments, and start a replacement each time.
                var kills = 0
                while kills < 20 {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 30...150)))
                    let victim = workers.remove(at: Int.random(in: 0..<workers.count))
                    kill(victim.pid, SIGKILL)
                    _ = await victim.exitStatus()
                    kills += 1
                    workers.append(try startWorker())
                }
                let unfinishedAtLastKill = try await unfinished(connection)

                let deadline = ContinuousClock.now + .seconds(120)
                while try await unfinished(connection) > 0, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                // Each survivor is past its start-up (a replacement may be only milliseconds old).
                for survivor in workers {
                    let log = try #require(logs[survivor.pid])
                    #expect(try await eventually { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("worker started") })
                }
                for survivor in workers { kill(survivor.pid, SIGTERM) }
                for survivor in workers {
                    let status = await survivor.exitStatus()
                    let log = logs[survivor.pid].flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
                    #expect(status == 0, "a worker did not stop cleanly on SIGTERM (status \(status)):\n\(log.suffix(2000))")
                }

                // The kills landed while there was work to take over.
                #expect(unfinishedAtLastKill > 0)
                // Every run reached the end it would have reached without the crashes.
                let statuses = try await connection.query("SELECT status, count(*) FROM baton.runs GROUP BY status ORDER BY status")
                    .map { "\(try $0.decode(String.self, at: 0)) \(try $0.decode(Int.self, at: 1))" }
                #expect(statuses == ["succeeded \(runCount)"])
                let completedSteps = try await connection.query("""
                    SELECT count(*) FROM baton.runs WHERE (context->>'completed')::int <> 10
                    """).scalar(Int.self)
                #expect(completedSteps == 0)
                // Every journal is gap-free and ends at the run's seq.
                let gaps = try await connection.query("""
                    SELECT count(*) FROM baton.runs r
                    JOIN (SELECT run_id, count(*) AS entries, max(seq) AS last FROM baton.journal GROUP BY run_id) j ON j.run_id = r.id
                    WHERE j.entries <> j.last OR j.last <> r.seq
                    """).scalar(Int.self)
                #expect(gaps == 0)
                #expect(try await connection.query("SELECT count(*) FROM baton.step_outputs").scalar(Int.self) == runCount * 10)
                // No step whose output was journaled ran again: no execution started after it.
                let executions = try String(contentsOfFile: stepLog, encoding: .utf8).split(separator: "\n")
                let rerunsAfterJournaling = try await connection.query("""
                    SELECT e.key || ' ran at ' || to_timestamp(e.micros / 1e6) || ', journaled at ' || o.completed_at
                           || ' (journal: ' || (SELECT string_agg(j.seq || ' ' || j.kind || ' ' || coalesce(j.step_name, '') || ' '
                                                                  || j.worker_id || ' ' || j.recorded_at, '; ' ORDER BY j.seq)
                                                FROM baton.journal j WHERE j.run_id = o.run_id) || ')'
                    FROM jsonb_to_recordset(\(try encodedExecutions(executions))::jsonb) AS e(key text, micros bigint)
                    JOIN baton.step_outputs o
                      ON e.key = lower(o.run_id::text) || ':' || o.visit || ':' || o.step_name
                    WHERE to_timestamp(e.micros / 1e6) > o.completed_at
                    """).map { try $0.decode(String.self, at: 0) }
                #expect(rerunsAfterJournaling.isEmpty, "steps that ran after their output was journaled: \(rerunsAfterJournaling)")
                #expect(executions.count >= runCount * 10)
                // Each business row committed with its transition: none without, none twice, none missing.
                let ledgerMismatches = try await connection.query("""
                    SELECT count(*) FROM (
                        SELECT run_id, state_from AS state, count(*) FROM baton.journal WHERE kind = 'transition' GROUP BY 1, 2
                    ) transitions
                    FULL JOIN (SELECT run_id, state, count(*) FROM example_ledger GROUP BY 1, 2) ledger USING (run_id, state)
                    WHERE transitions.count IS DISTINCT FROM ledger.count OR ledger.count <> 1
                    """).scalar(Int.self)
                #expect(ledgerMismatches == 0)
                #expect(try await connection.query("SELECT count(*) FROM example_ledger").scalar(Int.self) == runCount * 10)
                // Each run row is still the fold of its journal.
                let verification = try await store.verify()
                #expect(verification.runs == runCount)
                #expect(verification.mismatches.isEmpty)
                print("crash test: \(kills) SIGKILLs, \(started) worker processes, \(executions.count) step executions for \(runCount * 10) steps")
            }
        }
    }

    func unfinished(_ connection: PostgresConnection) async throws -> Int {
        try await connection.query("SELECT count(*) FROM baton.runs WHERE status IN ('runnable', 'waiting')").scalar(Int.self)
    }

    func encodedExecutions(_ lines: [Substring]) throws -> String {
        struct Execution: Encodable {
            let key: String
            let micros: Int64
        }
        let executions = lines.compactMap { line -> Execution? in
            let fields = line.split(separator: "\t")
            guard fields.count == 2, let micros = Int64(fields[1]) else { return nil }
            return Execution(key: String(fields[0]), micros: micros)
        }
        return String(decoding: try JSONEncoder().encode(executions), as: UTF8.self)
    }
}

@Suite("Fencing with real worker processes", .tags(.database, .process))
struct FencingTests {
    @Test func aWorkerPausedPastItsLeaseIsRefusedWhenItResumes() async throws {
        try await withMigratedStore { store, clockwork in
            let connection = clockwork.connection
            try await ScratchFolder.with("baton-fencing") { folder in
                for _ in 0..<10 { _ = try await store.start(TenSteps.self, context: .init(stepMilliseconds: 250)) }
                let worker = BatonProcess(
                    ["worker", "--concurrency", "10", "--lease-seconds", "1", "--poll-milliseconds", "100"],
                    environment: ["BATON_DATABASE_URL": clockwork.configuration.connectionString]
                )
                let pausedLog = folder.appending(path: "paused.log").path
                let paused = try worker.start(log: pausedLog)
                // Let it get going, then freeze it mid-step, past its lease.
                while try await connection.query("SELECT count(*) FROM baton.step_outputs").scalar(Int.self) < 10 {
                    try await Task.sleep(for: .milliseconds(20))
                }
                kill(paused.pid, SIGSTOP)
                try await Task.sleep(for: .milliseconds(1500))
                let takeover = try worker.start(log: folder.appending(path: "takeover.log").path)
                // Wait until the second worker has taken every run over, then wake the first.
                while try await connection.query("""
                    SELECT count(*) FROM baton.runs WHERE status = 'runnable' AND lease_owner IS DISTINCT FROM \("\(ProcessInfo.processInfo.hostName)-\(takeover.pid)")
                    """).scalar(Int.self) > 0 {
                    try await Task.sleep(for: .milliseconds(20))
                }
                kill(paused.pid, SIGCONT)
                let deadline = ContinuousClock.now + .seconds(60)
                while try await connection.query("SELECT count(*) FROM baton.runs WHERE status <> 'succeeded'").scalar(Int.self) > 0,
                      ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                for process in [paused, takeover] { kill(process.pid, SIGTERM) }
                for process in [paused, takeover] { _ = await process.exitStatus() }

                #expect(try await connection.query("SELECT count(*) FROM baton.runs WHERE status = 'succeeded'").scalar(Int.self) == 10)
                // Nothing was journaled twice: one completion per step, one transition per state.
                let duplicated = try await connection.query("""
                    SELECT count(*) FROM (
                        SELECT run_id, kind, state_from, step_name FROM baton.journal
                        WHERE kind IN ('step-completed', 'transition') GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) twice
                    """).scalar(Int.self)
                #expect(duplicated == 0)
                #expect(try await store.verify().mismatches.isEmpty)
                // The paused worker did try, and was refused.
                let log = try String(contentsOfFile: pausedLog, encoding: .utf8)
                #expect(log.contains("fenced out"), "the paused worker's log: \(log)")
            }
        }
    }
}

@Suite("Stopping a worker with runs mid-step", .tags(.database, .process))
struct StopGraceTests {
    @Test func afterItsStopGraceAWorkerGivesUpARunMidStepWithoutJournalingAndAnotherTakesItOverAtOnce() async throws {
        try await withMigratedStore { store, clockwork in
            try await ScratchFolder.with("baton-grace") { folder in
                let stepLog = folder.appending(path: "steps.log").path
                // Its first step takes ten minutes: a stop that waited for it would take as long.
                let id = try await store.start(TenSteps.self, context: .init(stepMilliseconds: 600_000)).runID
                func worker(_ name: String) throws -> (ChildProcess, log: String) {
                    let log = folder.appending(path: "\(name).log").path
                    let process = try BatonProcess(
                        // A lease far longer than the test: a takeover can only come from the lease given up.
                        ["worker", "--stop-grace-seconds", "1", "--lease-seconds", "600", "--poll-milliseconds", "100"],
                        environment: ["BATON_DATABASE_URL": clockwork.configuration.connectionString, "BATON_STEP_LOG": stepLog]
                    ).start(log: log)
                    return (process, log)
                }
                func stepStarts() -> Int {
                    ((try? String(contentsOfFile: stepLog, encoding: .utf8)) ?? "").split(separator: "\n").count
                }

                let (first, firstLog) = try worker("first")
                #expect(try await eventually { stepStarts() == 1 })
                kill(first.pid, SIGTERM)
                let gaveUp = try await eventually(within: .seconds(20)) {
                    ((try? String(contentsOfFile: firstLog, encoding: .utf8)) ?? "").contains("stop grace passed")
                }
                if !gaveUp { kill(first.pid, SIGKILL) }
                let status = await first.exitStatus()
                #expect(gaveUp && status == 0, "the stopping worker did not give the run up (status \(status)): \((try? String(contentsOfFile: firstLog, encoding: .utf8)) ?? "")")
                // Given up: no lease, due now, and nothing journaled after the start.
                let run = try #require(try await store.run(id))
                #expect(run.leaseOwner == nil)
                #expect((run.status, run.state, run.seq) == ("runnable", "step1", 1))

                let (second, _) = try worker("second")
                #expect(try await eventually(within: .seconds(20)) { stepStarts() == 2 })
                #expect(try await store.run(id)?.leaseOwner?.hasSuffix("-\(second.pid)") == true)
                kill(second.pid, SIGKILL)
                _ = await second.exitStatus()
                #expect(try await store.verify(id).mismatches.isEmpty)
            }
        }
    }
}

@Suite("Waits and timers across worker restarts", .tags(.database, .process))
struct RestartTests {
    @Test func anEventSentWhileNoWorkerRunsAndATimerAreHonouredByTheNextWorker() async throws {
        try await withMigratedStore { store, clockwork in
            try await ScratchFolder.with("baton-restart") { folder in
                let worker = BatonProcess(
                    ["worker", "--lease-seconds", "2", "--poll-milliseconds", "100"],
                    environment: ["BATON_DATABASE_URL": clockwork.configuration.connectionString]
                )
                let id = try await store.start(OrderDelay.self, context: .init(orderID: "ORD-3001", quantity: 2)).runID
                func waitFor(_ status: String, _ state: String) async throws -> Bool {
                    try await eventually { try await store.run(id).map { ($0.status, $0.state) == (status, state) } ?? false }
                }
                let first = try worker.start(log: folder.appending(path: "first.log").path)
                #expect(try await waitFor("waiting", "awaitCarrier"))
                kill(first.pid, SIGKILL)
                _ = await first.exitStatus()

                // Sent while no worker runs: kept in the inbox.
                try await store.send("carrier-confirmed", to: id, payload: #"{"carrier": "DHL"}"#)
                let second = try worker.start(log: folder.appending(path: "second.log").path)
                #expect(try await waitFor("waiting", "settle"))
                kill(second.pid, SIGKILL)
                _ = await second.exitStatus()

                // The settle timer comes due while no worker runs; the next worker fires it.
                try await Task.sleep(for: .seconds(2))
                let third = try worker.start(log: folder.appending(path: "third.log").path)
                #expect(try await waitFor("succeeded", "done"))
                kill(third.pid, SIGTERM)
                #expect(await third.exitStatus() == 0)
                #expect(try await store.journal(of: id).map(\.record.description).suffix(4) == [
                    "transition notify -> settle (children succeeded)",
                    "timer-fired settle (slept)",
                    "transition settle -> done (slept)",
                    "run-finished done (succeeded)",
                ])
                #expect(try await store.verify(id).mismatches.isEmpty)
            }
        }
    }
}
