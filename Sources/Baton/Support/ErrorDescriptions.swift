/// A decoding failure in one line a person reads: where in the JSON, and what was
/// wrong (`at "stepMilliseconds": expected Int`), instead of `DecodingError`'s dump.
public func decodingProblem(_ error: any Error) -> String {
    guard let error = error as? DecodingError else { return "\(error)" }
    func place(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return path.isEmpty ? "at the top" : "at \"\(path)\""
    }
    switch error {
    case .typeMismatch(let type, let context): return "\(place(context)): expected \(type)"
    case .valueNotFound(let type, let context): return "\(place(context)): expected \(type), found null"
    case .keyNotFound(let key, let context): return "\(place(context)): missing \"\(key.stringValue)\""
    case .dataCorrupted(let context): return "\(place(context)): \(context.debugDescription)"
    @unknown default: return "\(error)"
    }
}

/// `error`'s description on one line: server messages can span several (libpq's do),
/// and a log line or `baton: …` must not.
public func oneLine(_ error: any Error) -> String {
    "\(error)".split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
}
