import Foundation

/// One bound parameter as it goes over the wire: its type, format and bytes.
///
/// `bytes == nil` sends SQL `NULL`. Text-format values are sent as C strings, so
/// they may not contain a NUL byte; the connection refuses such a value with a
/// ``PostgresError/Code-swift.struct/invalidParameter`` error before anything is sent.
public struct PostgresBind: Sendable, Hashable {
    /// How the bytes encode the value.
    public enum Format: Int32, Sendable {
        case text = 0
        case binary = 1
    }

    public var type: PostgresType
    public var format: Format
    public var bytes: [UInt8]?
    /// Why the value could not be encoded; the connection refuses to send it.
    public var unencodableReason: String?

    public init(type: PostgresType, format: Format, bytes: [UInt8]?) {
        self.type = type
        self.format = format
        self.bytes = bytes
    }

    /// A value that failed to encode: binding it fails before anything is sent.
    public static func unencodable(reason: String) -> PostgresBind {
        var bind = PostgresBind.null
        bind.unencodableReason = reason
        return bind
    }

    /// Why this value cannot be sent, or `nil` if it can.
    var sendingProblem: String? {
        if let unencodableReason { return unencodableReason }
        if format == .text, let bytes, Self.containsNUL(bytes) {
            return "text contains a NUL byte (0x00), which PostgreSQL cannot store in text"
        }
        return nil
    }

    /// With `memchr`: searching a batch's 1 KB of JSON byte by byte took 0.7% of a
    /// worker's CPU.
    private static func containsNUL(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            guard let start = buffer.baseAddress else { return false }
            return memchr(start, 0, buffer.count) != nil
        }
    }

    /// SQL `NULL`, with the server inferring its type.
    public static let null = PostgresBind(type: .unspecified, format: .text, bytes: nil)

    /// A value sent in text format.
    public static func text(_ text: String, type: PostgresType = .unspecified) -> PostgresBind {
        PostgresBind(type: type, format: .text, bytes: Array(text.utf8))
    }

    /// A value sent in PostgreSQL's binary format for `type`.
    public static func binary(_ bytes: [UInt8], type: PostgresType) -> PostgresBind {
        PostgresBind(type: type, format: .binary, bytes: bytes)
    }

    /// Big-endian bytes of a fixed-width integer, as PostgreSQL's binary format wants them.
    static func bigEndianBytes<I: FixedWidthInteger>(_ value: I) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}
