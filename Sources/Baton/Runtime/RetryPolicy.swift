import Foundation

/// How a step retries: attempts, exponential backoff with jitter, and which errors
/// are not worth another attempt.
///
/// ```swift
/// try await run.step("charge-card", retry: RetryPolicy(maxAttempts: 5, initialInterval: .seconds(1))) { attempt in … }
/// ```
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included (1: no retry).
    public var maxAttempts: Int
    /// The pause before the second attempt.
    public var initialInterval: Duration
    /// Each pause is the previous one times this.
    public var backoffCoefficient: Double
    /// No pause is longer than this.
    public var maxInterval: Duration
    /// Each pause is shortened at random by up to this fraction (0 to 1), so retries
    /// from many runs do not arrive together.
    public var jitter: Double
    /// Errors for which another attempt is pointless (a validation failure, say).
    public var isNonRetryable: @Sendable (any Error) -> Bool

    public init(
        maxAttempts: Int = 3,
        initialInterval: Duration = .milliseconds(200),
        backoffCoefficient: Double = 2,
        maxInterval: Duration = .seconds(30),
        jitter: Double = 0.2,
        isNonRetryable: @escaping @Sendable (any Error) -> Bool = { _ in false }
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialInterval = initialInterval
        self.backoffCoefficient = backoffCoefficient
        self.maxInterval = maxInterval
        self.jitter = min(max(jitter, 0), 1)
        self.isNonRetryable = isNonRetryable
    }

    /// Three attempts, 200 ms then 400 ms apart (less up to 20 % jitter).
    public static let `default` = RetryPolicy()
    /// One attempt only.
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The pause after failed attempt `attempt` (1-based), before jitter.
    public func interval(after attempt: Int) -> Duration {
        let grown = initialInterval * pow(backoffCoefficient, Double(attempt - 1))
        return min(grown, maxInterval)
    }

    /// The pause after failed attempt `attempt`, with jitter applied.
    func pause(after attempt: Int) -> Duration {
        interval(after: attempt) * (1 - Double.random(in: 0...jitter))
    }
}
