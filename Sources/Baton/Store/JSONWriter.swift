import LibPQ

/// Writes JSON text for the few hot-path parameters whose shape Baton controls, where
/// `JSONEncoder`'s generality costs more than the statement's execution, and for
/// ``SortedJSONEncoder``. What it wrote binds as a statement parameter as it is, with no
/// copy through a `String`.
struct JSONWriter: PostgresEncodable {
    private var bytes: [UInt8] = []

    /// The JSON written, as a text parameter (`unknown`, like a `String`'s, for the
    /// statement to cast to `jsonb`).
    var postgresBind: PostgresBind { PostgresBind(type: .unspecified, format: .text, bytes: bytes) }

    init() {
        bytes.reserveCapacity(512)
    }

    mutating func array<Element>(_ elements: [Element], _ write: (inout JSONWriter, Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            write(&self, element)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func object(_ write: (inout Object) -> Void) {
        var object = Object(writer: self)
        bytes = []
        object.writer.bytes.append(UInt8(ascii: "{"))
        write(&object)
        object.writer.bytes.append(UInt8(ascii: "}"))
        self = object.writer
    }

    /// The fields of one object; a nil value leaves its field out.
    struct Object {
        var writer: JSONWriter
        private var isFirst = true

        init(writer: JSONWriter) {
            self.writer = writer
        }

        mutating func key(_ name: String) {
            if !isFirst { writer.bytes.append(UInt8(ascii: ",")) }
            isFirst = false
            writer.string(name)
            writer.bytes.append(UInt8(ascii: ":"))
        }

        mutating func field(_ name: String, _ value: String?) {
            guard let value else { return }
            key(name)
            writer.string(value)
        }

        /// A field whose value is JSON text already (a context, a step's output),
        /// embedded as is: the statement reads it as `jsonb` without parsing a string twice.
        mutating func field(_ name: String, json value: String?) {
            guard let value else { return }
            key(name)
            writer.bytes.append(contentsOf: value.utf8)
        }

        mutating func field(_ name: String, _ value: Int?) {
            guard let value else { return }
            key(name)
            writer.bytes.append(contentsOf: String(value).utf8)
        }

        mutating func field(_ name: String, _ value: Double?) {
            guard let value, value.isFinite else { return }
            key(name)
            writer.bytes.append(contentsOf: String(value).utf8)
        }

        mutating func field(_ name: String, _ value: Bool) {
            key(name)
            writer.bytes.append(contentsOf: (value ? "true" : "false").utf8)
        }
    }

    /// How many bytes were written so far.
    var count: Int { bytes.count }

    /// The JSON written, as text.
    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Text that is JSON already (a number, a literal), written as it is.
    mutating func raw(_ json: String) {
        bytes.append(contentsOf: json.utf8)
    }

    /// Copies what `other` wrote at `range`.
    mutating func copy(_ range: Range<Int>, of other: JSONWriter) {
        bytes.append(contentsOf: other.bytes[range])
    }

    /// A JSON string: quotes, backslashes and control characters escaped, as
    /// `JSONEncoder` escapes them.
    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            bytes.append(UInt8(ascii: "\""))
            // Most strings (states, kinds, step names) need no escape and are copied whole.
            if !utf8.contains(where: Self.needsEscape) {
                bytes.append(contentsOf: utf8)
            } else {
                for byte in utf8 { escape(byte) }
            }
            bytes.append(UInt8(ascii: "\""))
        }
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20
    }

    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
        case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
        case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case 0..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            bytes.append(contentsOf: Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
        default: bytes.append(byte)
        }
    }
}
