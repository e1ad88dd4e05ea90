import Synchronization

/// Trips after ``failureThreshold`` consecutive failures of one provider, so the router
/// skips it at once instead of waiting on it again; after ``coolDown`` it lets one call
/// through as a probe (half open): a success closes it, a failure opens it again.
public final class CircuitBreaker: Sendable {
    /// Where a breaker stands, as the journal records it.
    public enum Position: String, Sendable, Codable { case closed, open, halfOpen = "half-open" }

    public let failureThreshold: Int
    public let coolDown: Duration
    private let now: @Sendable () -> ContinuousClock.Instant
    private let state = Mutex<(failures: Int, openedAt: ContinuousClock.Instant?, probing: Bool)>((0, nil, false))

    /// - Parameter now: the clock, injectable so tests need not wait out a cool-down.
    public init(failureThreshold: Int = 5, coolDown: Duration = .seconds(30), now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.failureThreshold = max(1, failureThreshold)
        self.coolDown = coolDown
        self.now = now
    }

    public var position: Position {
        state.withLock { state in
            guard let opened = state.openedAt else { return .closed }
            return now() - opened >= coolDown ? .halfOpen : .open
        }
    }

    /// Whether a call may go to the provider now; in half-open position only one probe
    /// at a time is let through.
    public func allowsCall() -> Bool {
        state.withLock { state in
            guard let opened = state.openedAt else { return true }
            guard now() - opened >= coolDown, !state.probing else { return false }
            state.probing = true
            return true
        }
    }

    public func recordSuccess() {
        state.withLock { $0 = (0, nil, false) }
    }

    public func recordFailure() {
        let now = now()
        state.withLock { state in
            state.failures += 1
            if state.probing || state.failures >= failureThreshold { (state.openedAt, state.probing) = (now, false) }
        }
    }
}
