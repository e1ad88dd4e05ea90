import Foundation

/// Encodes `Encodable` values as the JSON text `JSONEncoder` writes with `.sortedKeys`
/// and `.withoutEscapingSlashes`: object keys in order, `Data` as Base64, a `URL` as its
/// absolute string, a `Decimal` as a number, a `Date` as its seconds since 2001, whole
/// floating-point numbers without `.0`, and non-finite ones refused.
///
/// A run's context and each step's output are encoded at every step, and `JSONEncoder`
/// took an eighth of a worker's CPU with them: it files every object's fields in a
/// dictionary and builds a second tree before writing any text. This encoder keeps an
/// object's fields in a list in the order they come, sorts them when it writes the
/// object, and writes scalars as text at once: half the time in a loop, and 8 µs less
/// worker CPU a step with 4 runs in flight.
enum SortedJSONEncoder {
    static func encode<Value: Encodable>(_ value: Value) throws -> String {
        let scratch = Scratch()
        let root = try scratch.node(for: value, at: [])
        guard let root else {
            throw EncodingError.invalidValue(
                value, EncodingError.Context(codingPath: [], debugDescription: "Top-level \(Value.self) did not encode any values.")
            )
        }
        if case .text(let range) = root, range.count == scratch.writer.count { return scratch.writer.text }
        var output = JSONWriter()
        scratch.write(root, to: &output)
        return output.text
    }
}

/// A value as it is being encoded: its text (already written to the scratch), or a
/// container still filling.
private enum Node {
    case text(Range<Int>)
    case object(ObjectNode)
    case array(ArrayNode)
    /// What a nested container or a super encoder writes, read when the text is put
    /// together: the caller may fill it after the fields that follow it.
    case later(ValueEncoder)
}

// One encoding uses its nodes and scratch from one thread, and none of its accesses
// overlap: their exclusivity goes unchecked, as checking it took a third of the time.

private final class ObjectNode {
    @exclusivity(unchecked) var fields: [(key: String, value: Node)] = []

    init() {
        fields.reserveCapacity(8)
    }

    /// Puts the fields in key order; of a key encoded twice, keeps the last value.
    func sort() {
        if fields.count <= 16 {
            // Small objects, often in order already: an insertion sort, allocating nothing.
            for index in fields.indices.dropFirst() where fields[index].key < fields[index - 1].key {
                var place = index - 1
                while place > 0, fields[index].key < fields[place - 1].key { place -= 1 }
                fields.insert(fields.remove(at: index), at: place)
            }
        } else {
            fields.sort { $0.key < $1.key }
        }
        // Both sorts are stable, so the last of equal keys is the last encoded.
        let hasTwiceEncodedKey = zip(fields, fields.dropFirst()).contains { $0.key == $1.key }
        guard hasTwiceEncodedKey else { return }
        fields = fields.indices.filter { $0 == fields.count - 1 || fields[$0 + 1].key != fields[$0].key }.map { fields[$0] }
    }
}

private final class ArrayNode {
    @exclusivity(unchecked) var elements: [Node] = []
}

/// Where an encoding writes its scalars' text, and how the nodes become one text.
private final class Scratch {
    @exclusivity(unchecked) var writer = JSONWriter()

    /// The node for `value`: nil when it encoded nothing.
    func node<Value: Encodable>(for value: Value, at path: [any CodingKey]) throws -> Node? {
        // The types `JSONEncoder` writes its own way, whatever their `encode(to:)` says.
        if Value.self == Data.self, let data = value as? Data { return text { $0.string(data.base64EncodedString()) } }
        if Value.self == URL.self, let url = value as? URL { return text { $0.string(url.absoluteString) } }
        if Value.self == Decimal.self, let decimal = value as? Decimal { return text { $0.raw(decimal.description) } }
        let encoder = ValueEncoder(scratch: self, codingPath: path)
        try value.encode(to: encoder)
        return encoder.node
    }

    /// A nested value's node: one that encoded nothing is an empty object, as with `JSONEncoder`.
    func nestedNode<Value: Encodable>(for value: Value, at path: [any CodingKey]) throws -> Node {
        try node(for: value, at: path) ?? .object(ObjectNode())
    }

    func text(_ write: (inout JSONWriter) -> Void) -> Node {
        let start = writer.count
        write(&writer)
        return .text(start..<writer.count)
    }

    func number<Number: FixedWidthInteger>(_ value: Number) -> Node {
        text { $0.raw(String(value)) }
    }

    /// `path` (the value's coding path) is made only for the error.
    func number<Number: BinaryFloatingPoint & LosslessStringConvertible>(
        _ value: Number, at path: @autoclosure () -> [any CodingKey]
    ) throws -> Node {
        guard value.isFinite else {
            throw EncodingError.invalidValue(
                value, EncodingError.Context(codingPath: path(), debugDescription: "Unable to encode \(Number.self).\(value) directly in JSON.")
            )
        }
        var description = value.description
        if description.hasSuffix(".0") { description.removeLast(2) }
        return text { $0.raw(description) }
    }

    func write(_ node: Node, to output: inout JSONWriter) {
        switch node {
        case .text(let range):
            output.copy(range, of: writer)
        case .object(let object):
            output.object { fields in
                object.sort()
                for field in object.fields {
                    fields.key(field.key)
                    write(field.value, to: &fields.writer)
                }
            }
        case .array(let array):
            output.array(array.elements) { output, element in write(element, to: &output) }
        case .later(let encoder):
            write(encoder.node ?? .object(ObjectNode()), to: &output)
        }
    }
}

/// The encoder a value encodes itself to; it holds the value's node once it asked for a container.
private final class ValueEncoder: Encoder, SingleValueEncodingContainer {
    let scratch: Scratch
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    private(set) var node: Node?

    init(scratch: Scratch, codingPath: [any CodingKey]) {
        self.scratch = scratch
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        // Asked twice (a class and its superclass), both write to the same object.
        if case .object(let object) = node { return KeyedEncodingContainer(KeyedContainer(encoder: self, object: object)) }
        let object = ObjectNode()
        node = .object(object)
        return KeyedEncodingContainer(KeyedContainer(encoder: self, object: object))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array(let array) = node { return UnkeyedContainer(encoder: self, array: array) }
        let array = ArrayNode()
        node = .array(array)
        return UnkeyedContainer(encoder: self, array: array)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    func encodeNil() throws { node = scratch.text { $0.raw("null") } }
    func encode(_ value: Bool) throws { node = scratch.text { $0.raw(value ? "true" : "false") } }
    func encode(_ value: String) throws { node = scratch.text { $0.string(value) } }
    func encode(_ value: Double) throws { node = try scratch.number(value, at: codingPath) }
    func encode(_ value: Float) throws { node = try scratch.number(value, at: codingPath) }
    func encode(_ value: Int) throws { node = scratch.number(value) }
    func encode(_ value: Int8) throws { node = scratch.number(value) }
    func encode(_ value: Int16) throws { node = scratch.number(value) }
    func encode(_ value: Int32) throws { node = scratch.number(value) }
    func encode(_ value: Int64) throws { node = scratch.number(value) }
    func encode(_ value: UInt) throws { node = scratch.number(value) }
    func encode(_ value: UInt8) throws { node = scratch.number(value) }
    func encode(_ value: UInt16) throws { node = scratch.number(value) }
    func encode(_ value: UInt32) throws { node = scratch.number(value) }
    func encode(_ value: UInt64) throws { node = scratch.number(value) }
    func encode(_ value: Int128) throws { node = scratch.number(value) }
    func encode(_ value: UInt128) throws { node = scratch.number(value) }
    func encode<Value: Encodable>(_ value: Value) throws { node = try scratch.nestedNode(for: value, at: codingPath) }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: ValueEncoder
    let object: ObjectNode
    var codingPath: [any CodingKey] { encoder.codingPath }
    private var scratch: Scratch { encoder.scratch }

    init(encoder: ValueEncoder, object: ObjectNode) {
        self.encoder = encoder
        self.object = object
    }

    private func add(_ node: Node, for key: Key) {
        object.fields.append((key.stringValue, node))
    }

    mutating func encodeNil(forKey key: Key) throws { add(scratch.text { $0.raw("null") }, for: key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { add(scratch.text { $0.raw(value ? "true" : "false") }, for: key) }
    mutating func encode(_ value: String, forKey key: Key) throws { add(scratch.text { $0.string(value) }, for: key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { add(try scratch.number(value, at: codingPath + [key]), for: key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { add(try scratch.number(value, at: codingPath + [key]), for: key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { add(scratch.number(value), for: key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { add(scratch.number(value), for: key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { add(scratch.number(value), for: key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { add(scratch.number(value), for: key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { add(scratch.number(value), for: key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { add(scratch.number(value), for: key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { add(scratch.number(value), for: key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { add(scratch.number(value), for: key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { add(scratch.number(value), for: key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { add(scratch.number(value), for: key) }
    mutating func encode(_ value: Int128, forKey key: Key) throws { add(scratch.number(value), for: key) }
    mutating func encode(_ value: UInt128, forKey key: Key) throws { add(scratch.number(value), for: key) }

    mutating func encode<Value: Encodable>(_ value: Value, forKey key: Key) throws {
        add(try scratch.nestedNode(for: value, at: codingPath + [key]), for: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = ValueEncoder(scratch: scratch, codingPath: codingPath + [key])
        add(.later(nested), for: key)
        return nested.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = ValueEncoder(scratch: scratch, codingPath: codingPath + [key])
        add(.later(nested), for: key)
        return nested.unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { superEncoder(named: SuperKey.super) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key) }

    private func superEncoder(named key: some CodingKey) -> any Encoder {
        let nested = ValueEncoder(scratch: scratch, codingPath: codingPath + [key])
        object.fields.append((key.stringValue, .later(nested)))
        return nested
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let encoder: ValueEncoder
    let array: ArrayNode
    var codingPath: [any CodingKey] { encoder.codingPath }
    var count: Int { array.elements.count }
    private var scratch: Scratch { encoder.scratch }
    /// The key of the next element, for coding paths.
    private var nextKey: IndexKey { IndexKey(intValue: count) }

    init(encoder: ValueEncoder, array: ArrayNode) {
        self.encoder = encoder
        self.array = array
    }

    private func add(_ node: Node) {
        array.elements.append(node)
    }

    mutating func encodeNil() throws { add(scratch.text { $0.raw("null") }) }
    mutating func encode(_ value: Bool) throws { add(scratch.text { $0.raw(value ? "true" : "false") }) }
    mutating func encode(_ value: String) throws { add(scratch.text { $0.string(value) }) }
    mutating func encode(_ value: Double) throws { add(try scratch.number(value, at: codingPath + [nextKey])) }
    mutating func encode(_ value: Float) throws { add(try scratch.number(value, at: codingPath + [nextKey])) }
    mutating func encode(_ value: Int) throws { add(scratch.number(value)) }
    mutating func encode(_ value: Int8) throws { add(scratch.number(value)) }
    mutating func encode(_ value: Int16) throws { add(scratch.number(value)) }
    mutating func encode(_ value: Int32) throws { add(scratch.number(value)) }
    mutating func encode(_ value: Int64) throws { add(scratch.number(value)) }
    mutating func encode(_ value: UInt) throws { add(scratch.number(value)) }
    mutating func encode(_ value: UInt8) throws { add(scratch.number(value)) }
    mutating func encode(_ value: UInt16) throws { add(scratch.number(value)) }
    mutating func encode(_ value: UInt32) throws { add(scratch.number(value)) }
    mutating func encode(_ value: UInt64) throws { add(scratch.number(value)) }
    mutating func encode(_ value: Int128) throws { add(scratch.number(value)) }
    mutating func encode(_ value: UInt128) throws { add(scratch.number(value)) }
    mutating func encode<Value: Encodable>(_ value: Value) throws { add(try scratch.nestedNode(for: value, at: codingPath + [nextKey])) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = ValueEncoder(scratch: scratch, codingPath: codingPath + [nextKey])
        add(.later(nested))
        return nested.container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = ValueEncoder(scratch: scratch, codingPath: codingPath + [nextKey])
        add(.later(nested))
        return nested.unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let nested = ValueEncoder(scratch: scratch, codingPath: codingPath + [nextKey])
        add(.later(nested))
        return nested
    }
}

/// The key `superEncoder()` writes under, as with `JSONEncoder`.
private enum SuperKey: String, CodingKey {
    case `super`
}

/// An array element's place in a coding path.
private struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }

    init(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}
