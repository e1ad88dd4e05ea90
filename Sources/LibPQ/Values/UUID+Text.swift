import Foundation

extension UUID {
    /// The canonical text in lowercase, as PostgreSQL prints a `uuid`
    /// (`a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11`).
    ///
    /// Written by hand: `uuidString` goes through `snprintf` and spells it in capitals,
    /// and on a worker's hot path (a run id in every move) that cost several times more
    /// than the rest of the text around it.
    public var lowercaseText: String {
        // Read once: each read of a static goes through its lazy initializer's check.
        let digits = Self.hexDigits
        return withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { text in
                var written = 0
                for (index, byte) in bytes.enumerated() {
                    if Self.dashPrecedes(byte: index) {
                        text[written] = UInt8(ascii: "-")
                        written += 1
                    }
                    text[written] = digits[Int(byte >> 4)]
                    text[written + 1] = digits[Int(byte & 0x0F)]
                    written += 2
                }
                return written
            }
        }
    }

    /// Reads the canonical text (8-4-4-4-12 hexadecimal digits) in either case: what
    /// PostgreSQL prints and what `uuidString` spells. Nil for anything else.
    ///
    /// Written by hand: `UUID(uuidString:)` goes through `sscanf`.
    public init?(canonicalText text: String) {
        var text = text
        guard let parsed = text.withUTF8(Self.parse) else { return nil }
        self.init(uuid: parsed)
    }

    /// Reads the canonical text from its UTF-8 bytes, as ``init(canonicalText:)`` does:
    /// a result cell's bytes need no `String` made of them first.
    init?(canonicalUTF8 utf8: ArraySlice<UInt8>) {
        guard let parsed = utf8.withUnsafeBufferPointer(Self.parse) else { return nil }
        self.init(uuid: parsed)
    }

    /// The 16 bytes the canonical text spells; nil for anything else.
    private static func parse(_ utf8: UnsafeBufferPointer<UInt8>) -> uuid_t? {
        guard utf8.count == 36 else { return nil }
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let filled = withUnsafeMutableBytes(of: &bytes) { bytes -> Bool in
            var offset = 0
            for index in 0..<16 {
                if dashPrecedes(byte: index) {
                    guard utf8[offset] == UInt8(ascii: "-") else { return false }
                    offset += 1
                }
                guard let high = hexValue(utf8[offset]), let low = hexValue(utf8[offset + 1]) else { return false }
                bytes[index] = high << 4 | low
                offset += 2
            }
            return true
        }
        return filled ? bytes : nil
    }

    /// Whether the canonical text has a dash before the byte at `index`: the groups of
    /// 8-4-4-4-12 digits are bytes 0-3, 4-5, 6-7, 8-9 and 10-15.
    private static func dashPrecedes(byte index: Int) -> Bool {
        index == 4 || index == 6 || index == 8 || index == 10
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func hexValue(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
