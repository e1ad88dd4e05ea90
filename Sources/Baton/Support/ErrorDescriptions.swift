import Foundation

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

/// `text` with its control characters (a newline in a key a person typed) written as
/// escapes, `\n`, `\u{7}`, so a message that quotes it stays on one line.
public func escapingControlCharacters(_ text: String) -> String {
    func breaks(_ scalar: Unicode.Scalar) -> Bool {
        [.control, .lineSeparator, .paragraphSeparator].contains(scalar.properties.generalCategory)
    }
    guard text.unicodeScalars.contains(where: breaks) else { return text }
    return String(text.unicodeScalars.map { scalar -> String in
        switch scalar {
        case "\n": "\\n"
        case "\r": "\\r"
        case "\t": "\\t"
        case _ where breaks(scalar): "\\u{\(String(scalar.value, radix: 16))}"
        default: String(scalar)
        }
    }.joined())
}

/// `json` (JSON text that `what` carries: "event x's data", "the payment action's
/// payload") decoded as `T`; a clear error if there is none or it does not fit.
func decodeCarried<T: Decodable>(_ json: String?, as type: T.Type, _ what: String, carrier: String) throws -> T {
    guard let json else { throw BatonError(.invalidRequest, "\(carrier) carries no data; expected \(T.self)") }
    do {
        return try JSONDecoder().decode(T.self, from: Data(json.utf8))
    } catch {
        throw BatonError(.invalidRequest, "\(what) does not fit \(T.self): \(decodingProblem(error))")
    }
}
