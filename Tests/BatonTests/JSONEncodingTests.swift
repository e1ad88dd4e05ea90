import Baton
import Foundation
import Testing

/// Contexts, step outputs and payloads are written by Baton's own encoder; it must write
/// what `JSONEncoder` with sorted keys writes, so stored JSON reads back the same way.
@Suite("Baton's JSON encoding, against JSONEncoder's")
struct JSONEncodingTests {
    /// What Baton writes for `value`, through the public API that hands its text back.
    private func batonJSON(_ value: some Encodable) throws -> String? {
        try ProposedAction(kind: "encode", payload: value).payload
    }

    private func foundationJSON(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    @Test func everyKindOfValueIsWrittenAsJSONEncoderWritesIt() throws {
        let value = Everything.sample
        let written = try #require(try batonJSON(value))
        #expect(written == (try foundationJSON(value)))
        // And it reads back as the same value.
        #expect(try JSONDecoder().decode(Everything.self, from: Data(written.utf8)) == value)
    }

    @Test(arguments: [
        "plain", "", "quote \" backslash \\ slash /", "lines\nand\ttabs\r\u{8}\u{c}", "control \u{1} \u{1f} \u{7f}",
        "é ü 北京 😀", "\u{2028}",
    ])
    func stringsAreEscapedAsJSONEncoderEscapesThem(_ text: String) throws {
        #expect(try batonJSON(text) == (try foundationJSON(text)))
        #expect(try batonJSON(["key \(text)": text]) == (try foundationJSON(["key \(text)": text])))
    }

    @Test(arguments: [0.0, -0.0, 1.0, -1.5, 0.1, 100.0, 1e16, 1e20, 1e300, .leastNonzeroMagnitude, 12345678901234567.0, .pi])
    func numbersAreWrittenAsJSONEncoderWritesThem(_ number: Double) throws {
        #expect(try batonJSON(number) == (try foundationJSON(number)))
        let single = Float(number)
        if single.isFinite { #expect(try batonJSON(single) == (try foundationJSON(single))) }
    }

    @Test func objectKeysAreSortedAndTheLastOfATwiceEncodedKeyWins() throws {
        let keys = ["a10", "a2", "B", "a", "é", "e", "Z", "_", "a1", "b", "c", "d", "f", "g", "h", "i", "j"]
        let dictionary = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
        #expect(try batonJSON(dictionary) == (try foundationJSON(dictionary)))
        #expect(try batonJSON(TwiceEncodedKey()) == #"{"a":2,"b":3,"super":"sup"}"#)
        #expect(try batonJSON(TwiceEncodedKey()) == (try foundationJSON(TwiceEncodedKey())))
    }

    @Test func nonFiniteNumbersAndValuesThatWriteNothingAreRefused() throws {
        #expect(throws: EncodingError.self) { try batonJSON([1, Double.nan]) }
        #expect(throws: EncodingError.self) { try batonJSON(["speed": Float.infinity]) }
        #expect(throws: EncodingError.self) { try batonJSON(WritesNothing()) }
        // Nested, it is an empty object, as with JSONEncoder.
        #expect(try batonJSON([WritesNothing()]) == "[{}]")
    }
}

/// A value holding each kind of thing a context can hold.
private struct Everything: Codable, Equatable {
    enum Shipping: Codable, Equatable {
        case pickup
        case courier(name: String, eta: Date?)
        case split([Int])
    }

    struct Empty: Codable, Equatable {}

    var completed = 3
    var ledger = false
    var stepMilliseconds = 0
    var name = "order \"4711\"\n"
    var missing: Int?
    var present: Int? = 7
    var integers: [Int64] = [.min, -1, 0, .max]
    var unsigned: [UInt64] = [0, .max]
    var small: [Int8] = [-128, 127]
    var huge: Int128 = .min
    var hugeUnsigned: UInt128 = .max
    var ratios: [Double] = [0.5, 2.0, -3.25]
    var ratio: Float = 0.3
    var byName: [String: Int] = ["zulu": 1, "alpha": 2, "Mike": 3]
    var byNumber: [Int: String] = [10: "ten", 2: "two"]
    var byID: [UUID: Int] = [UUID(uuidString: "6F9619FF-8B86-D011-B42D-00CF4FC964FF")!: 1]
    var shipping: [Shipping] = [.pickup, .courier(name: "DHL", eta: Date(timeIntervalSinceReferenceDate: 12.5)), .courier(name: "UPS", eta: nil), .split([1, 2])]
    var nested: [[String]] = [["a", "b"], []]
    var empty = Empty()
    var data = Data([0, 1, 2, 250, 255])
    var url = URL(string: "https://example.com/a/b?c=d")!
    var amount = Decimal(string: "12.345")!
    var when = Date(timeIntervalSinceReferenceDate: 700_000_000.25)
    var id = UUID(uuidString: "6F9619FF-8B86-D011-B42D-00CF4FC964FF")!

    static let sample = Everything()
}

/// Encodes `b` twice and a super encoder, as hand-written `encode(to:)` methods may.
private struct TwiceEncodedKey: Encodable {
    struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(1, forKey: Key("b"))
        try container.encode(2, forKey: Key("a"))
        try container.encode(3, forKey: Key("b"))
        var superContainer = container.superEncoder().singleValueContainer()
        try superContainer.encode("sup")
    }
}

private struct WritesNothing: Encodable {
    func encode(to encoder: any Encoder) throws {}
}
