import Foundation
import LibPQ
import Synchronization

/// Commits the moves of many runs together (group commit): while a batch's statement
/// runs, moves that arrive queue up, and the next batch takes them all in one
/// statement and one commit. One batch runs at a time; a move that arrives when none
/// is running goes at once, so a lone run waits for nobody. A leader that
/// knows of runs that were acting a moment ago (their last move kept them runnable)
/// waits up to ``gatherLimit`` for them to join, so they share its commit rather
/// than queue behind it (a leader on a bound store: a worker's run, on its connection's
/// own thread).
///
/// No thread of its own: a mover that finds no batch running leads one with its own
/// move and whatever is queued; when it is done it hands the lead to the oldest queued
/// mover, whose move then goes with the next batch.
///
/// A store has one of these per commit lane (``RunStore/bound(to:lane:)``): a worker
/// with up to 4 runs in flight splits them over two, so one half acts while the other
/// half's commit waits for its WAL flush (``WorkerConfiguration/commitLanes`` has the
/// figures). Within a lane, measured with `ops/bench --sections engine` (2 cores), the
/// last returning run waking the leader did better than polling for them every 50 µs
/// (5,000-5,100 steps/s against 4,500-5,000 at 4 in flight), and no batching at all
/// did worse (2,400-2,700).
final class GroupCommit: Sendable {
    private let maxBatchSize: Int
    private let state = Mutex(Queue())
    /// Wakes a gathering leader when the last returning run has queued its move. Held by
    /// the leader from its last look at the queue until it waits, so no wake-up is lost.
    private let arrivals = NSCondition()

    private struct Queue {
        var waiting: [Waiter] = []
        var batchRunning = false
        /// Runs whose last move left them acting, so their driver will move them again
        /// in a moment, by when that move was applied.
        var returning: [UUID: ContinuousClock.Instant] = [:]
        /// Whether a leader waits for returning runs to join its batch (on ``arrivals``).
        var leaderIsGathering = false

        /// Whether a batch leader has no reason to wait: every returning run has queued
        /// its move (or was gone too long to count on), or the batch is full.
        mutating func gathered(now: ContinuousClock.Instant, maxBatchSize: Int) -> Bool {
            // Asked at every arrival: the dictionary is rebuilt only when a run has expired.
            if returning.values.contains(where: { now - $0 >= GroupCommit.returnWindow }) {
                returning = returning.filter { now - $0.value < GroupCommit.returnWindow }
            }
            return returning.isEmpty || waiting.count >= maxBatchSize - 1
        }
    }

    /// How long after its last move a run still counts as coming back with another.
    static let returnWindow = Duration.milliseconds(2)
    /// How long a batch leader waits, at most, for returning runs to join its batch.
    static let gatherLimit = Duration.microseconds(300)

    private struct Waiter {
        let move: RunMove
        let turn: CheckedContinuation<Turn, any Error>
    }

    /// What a queued mover is told: its move was applied by another's batch, or it
    /// leads the next batch.
    private enum Turn {
        case applied(RunStore.Committed?)
        case lead
    }

    init(maxBatchSize: Int = 64) {
        self.maxBatchSize = maxBatchSize
    }

    /// Applies `move` (in some batch); nil when it was fenced out. A batch this mover
    /// leads runs on `store`'s connection.
    func commit(_ move: RunMove, by store: RunStore) async throws -> RunStore.Committed? {
        let turn = try await withCheckedThrowingContinuation { (turn: CheckedContinuation<Turn, any Error>) in
            let (leads, wakesLeader) = state.withLock { queue in
                queue.returning[move.runID] = nil
                guard !queue.batchRunning else {
                    queue.waiting.append(Waiter(move: move, turn: turn))
                    return (false, queue.leaderIsGathering && queue.gathered(now: .now, maxBatchSize: maxBatchSize))
                }
                queue.batchRunning = true
                return (true, false)
            }
            if leads { turn.resume(returning: .lead) }
            if wakesLeader { wakeGatheringLeader() }
        }
        switch turn {
        case .applied(let committed): return committed
        case .lead: return try await lead(with: move, by: store)
        }
    }

    /// Waits until the runs that were acting a moment ago have queued their moves, or
    /// ``gatherLimit`` has passed, whichever is first: the last of them to arrive
    /// wakes the leader at once.
    ///
    /// It blocks the thread it runs on, which is the leader's own connection's thread
    /// (only a mover on a bound store gathers): a timer task per batch instead cost
    /// three thread wake-ups a batch, most of a worker's switches that were not waits
    /// for the database.
    private func gather() {
        let deadline = Date(timeIntervalSinceNow: Self.gatherLimit.seconds)
        arrivals.lock()
        defer { arrivals.unlock() }
        state.withLock { $0.leaderIsGathering = true }
        while !state.withLock({ $0.gathered(now: .now, maxBatchSize: maxBatchSize) }), arrivals.wait(until: deadline) {}
        state.withLock { $0.leaderIsGathering = false }
    }

    /// Wakes the gathering leader; see ``gather()``.
    private func wakeGatheringLeader() {
        arrivals.lock()
        arrivals.signal()
        arrivals.unlock()
    }

    /// Applies `move` and the queued moves in one batch, answers their movers, and
    /// passes the lead on.
    private func lead(with move: RunMove, by store: RunStore) async throws -> RunStore.Committed? {
        // Runs that were acting a moment ago are about to move again: wait a little
        // for them, so they share this commit instead of queueing behind it. Only on a
        // connection's own thread: a store that is not bound may be called from the
        // cooperative pool, which must not block.
        if store.isBound { gather() }
        let others = state.withLock { queue in
            let taken = Array(queue.waiting.prefix(maxBatchSize - 1))
            queue.waiting.removeFirst(taken.count)
            return taken
        }
        defer {
            let next = state.withLock { queue -> Waiter? in
                guard !queue.waiting.isEmpty else {
                    queue.batchRunning = false
                    return nil
                }
                return queue.waiting.removeFirst()
            }
            next?.turn.resume(returning: .lead)
        }
        let moves = [move] + others.map(\.move)
        do {
            let applied = try await store.withConnection { try await RunStore.apply(moves, as: store.workerID, on: $0) }
            let now = ContinuousClock.now
            state.withLock { queue in
                for move in moves where move.row.status == "runnable" && applied[move.runID] != nil { queue.returning[move.runID] = now }
            }
            for waiter in others { waiter.turn.resume(returning: .applied(applied[waiter.move.runID])) }
            return applied[move.runID]
        } catch where !others.isEmpty {
            // One bad move must not fail the others: each is applied on its own.
            for waiter in others {
                do {
                    let applied = try await store.withConnection { try await RunStore.apply([waiter.move], as: store.workerID, on: $0) }
                    waiter.turn.resume(returning: .applied(applied[waiter.move.runID]))
                } catch {
                    waiter.turn.resume(throwing: error)
                }
            }
            return try await store.withConnection { try await RunStore.apply([move], as: store.workerID, on: $0) }[move.runID]
        }
    }
}

