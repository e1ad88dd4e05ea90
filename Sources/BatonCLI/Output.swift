import ArgumentParser
import Foundation

/// The `--json` flag every command that reports something takes.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print one JSON document for scripts instead of text for people.")
    var json = false

    /// Prints `value` as JSON (dates in ISO 8601) when `--json` was given; otherwise calls `text`.
    func report<Value: Encodable>(_ value: Value, text: () -> Void) throws {
        guard json else { return text() }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// A line of progress for a person: on stderr, and not at all with `--json`.
    func progress(_ line: String) {
        guard !json else { return }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
