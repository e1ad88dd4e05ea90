import Synchronization

/// Wakes one waiting task: at once if signalled since it last woke, else at the next
/// signal, at the timeout, or when its task is cancelled, whichever comes first.
final class WakeSignal: Sendable {
    private struct State {
        var isPending = false
        var waiter: (id: Int, continuation: CheckedContinuation<Void, Never>)?
        var lastID = 0
    }

    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.isPending = true
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }

    func wait(upTo timeout: Duration) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let id = state.withLock { state -> Int? in
                    if state.isPending {
                        state.isPending = false
                        return nil
                    }
                    state.lastID += 1
                    state.waiter = (state.lastID, continuation)
                    return state.lastID
                }
                guard let id else { return continuation.resume() }
                Task {
                    try? await Task.sleep(for: timeout)
                    self.resume(id)
                }
            }
        } onCancel: {
            signal()
        }
        state.withLock { $0.isPending = false }
    }

    /// Resumes the waiter `id` if it is still waiting (the timeout).
    private func resume(_ id: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter, waiter.id == id else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }
}
