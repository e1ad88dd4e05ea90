import Synchronization

/// Wakes one waiting task: at once if signalled since it last woke, else at the next
/// signal or when its task is cancelled, whichever comes first. A timeout is a signal
/// too: see ``Worker``'s poll ticker, one task for all waits instead of one per wait.
final class WakeSignal: Sendable {
    private let state = Mutex(State())

    private struct State {
        var isPending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.isPending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let signalled = state.withLock { state -> Bool in
                    if state.isPending {
                        state.isPending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if signalled { continuation.resume() }
            }
        } onCancel: {
            signal()
        }
        state.withLock { $0.isPending = false }
    }
}
