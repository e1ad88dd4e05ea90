import Foundation
import LibPQ
import Synchronization

/// Commits the moves of many runs together (group commit): while a batch's statement
/// runs, moves that arrive queue up, and the next batch takes them all in one
/// statement and one commit. A move that arrives when fewer than `maxBatches`
/// batches are running goes at once, so a lone run waits for nobody.
///
/// No thread of its own: a mover that finds room leads a batch with its own move and
/// whatever is queued; when it is done it hands the lead to the oldest queued mover,
/// whose move then goes with the next batch.
final class GroupCommit: Sendable {
    private let maxBatches: Int
    private let maxBatchSize: Int
    private let state = Mutex(Queue())

    private struct Queue {
        var waiting: [Waiter] = []
        var runningBatches = 0
    }

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

    init(maxBatches: Int = 2, maxBatchSize: Int = 64) {
        self.maxBatches = maxBatches
        self.maxBatchSize = maxBatchSize
    }

    /// Applies `move` (in some batch); nil when it was fenced out. A batch this mover
    /// leads runs on `store`'s connection.
    func commit(_ move: RunMove, by store: RunStore) async throws -> RunStore.Committed? {
        let turn = try await withCheckedThrowingContinuation { (turn: CheckedContinuation<Turn, any Error>) in
            let leads = state.withLock { queue in
                guard queue.runningBatches < maxBatches else {
                    queue.waiting.append(Waiter(move: move, turn: turn))
                    return false
                }
                queue.runningBatches += 1
                return true
            }
            if leads { turn.resume(returning: .lead) }
        }
        switch turn {
        case .applied(let committed): return committed
        case .lead: return try await lead(with: move, by: store)
        }
    }

    /// Applies `move` and the queued moves in one batch, answers their movers, and
    /// passes the lead on.
    private func lead(with move: RunMove, by store: RunStore) async throws -> RunStore.Committed? {
        let others = state.withLock { queue in
            let taken = Array(queue.waiting.prefix(maxBatchSize - 1))
            queue.waiting.removeFirst(taken.count)
            return taken
        }
        defer {
            let next = state.withLock { queue -> Waiter? in
                guard !queue.waiting.isEmpty else {
                    queue.runningBatches -= 1
                    return nil
                }
                return queue.waiting.removeFirst()
            }
            next?.turn.resume(returning: .lead)
        }
        let moves = [move] + others.map(\.move)
        do {
            let applied = try await store.withConnection { try await RunStore.apply(moves, as: store.workerID, on: $0) }
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
