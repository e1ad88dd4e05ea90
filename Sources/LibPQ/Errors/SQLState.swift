/// A five-character SQLSTATE error code sent by the server.
///
/// Compare against the named codes instead of matching message text:
/// ```swift
/// catch let error as PostgresError where error.sqlState == .uniqueViolation { … }
/// ```
public struct SQLState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    /// The two-character class, for example `"23"` for integrity constraint violations.
    public var errorClass: String { String(rawValue.prefix(2)) }

    public static let uniqueViolation = SQLState(rawValue: "23505")
    public static let foreignKeyViolation = SQLState(rawValue: "23503")
    public static let notNullViolation = SQLState(rawValue: "23502")
    public static let checkViolation = SQLState(rawValue: "23514")
    public static let exclusionViolation = SQLState(rawValue: "23P01")
    public static let syntaxError = SQLState(rawValue: "42601")
    public static let undefinedTable = SQLState(rawValue: "42P01")
    public static let undefinedColumn = SQLState(rawValue: "42703")
    public static let undefinedFunction = SQLState(rawValue: "42883")
    public static let duplicateDatabase = SQLState(rawValue: "42P04")
    public static let invalidTextRepresentation = SQLState(rawValue: "22P02")
    public static let characterNotInRepertoire = SQLState(rawValue: "22021")
    public static let serializationFailure = SQLState(rawValue: "40001")
    public static let deadlockDetected = SQLState(rawValue: "40P01")
    public static let lockNotAvailable = SQLState(rawValue: "55P03")
    public static let queryCanceled = SQLState(rawValue: "57014")
    public static let adminShutdown = SQLState(rawValue: "57P01")
    public static let cannotConnectNow = SQLState(rawValue: "57P03")
    public static let raiseException = SQLState(rawValue: "P0001")
    public static let insufficientPrivilege = SQLState(rawValue: "42501")
}
