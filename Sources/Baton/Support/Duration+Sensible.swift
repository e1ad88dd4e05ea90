extension Duration {
    /// `seconds` as a duration, if it is a finite number of seconds from 0 to 100 years
    /// (what a person may mean by a deadline, a lease or a timeout); nil otherwise, for
    /// the caller to refuse with its own message. Converting a larger value would trap.
    public static func seconds(ifSensible seconds: Double) -> Duration? {
        guard seconds.isFinite, (0...3_155_760_000).contains(seconds) else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}
