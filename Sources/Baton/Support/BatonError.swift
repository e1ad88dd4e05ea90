/// An error Baton reports to its user: a code to match on and a message to read.
///
/// `description` is one sentence fit for a terminal or a log; it never carries a
/// password or a bound value.
public struct BatonError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String

        public init(_ description: String) {
            self.description = description
        }

        /// A schema file is misnamed or duplicated.
        public static let invalidMigration = Code("invalid migration")
        /// An applied migration's file changed, or the database is newer than this binary.
        public static let migrationConflict = Code("migration conflict")
        /// The embedded PostgreSQL could not be created, started or stopped.
        public static let embeddedDatabase = Code("embedded database")
        /// A program Baton runs could not be started.
        public static let process = Code("process")
        /// A stored run does not match the definition it names (unknown state or journal kind).
        public static let storedRun = Code("stored run")
        /// A request names something that does not exist or can't take it (an event for a finished run).
        public static let invalidRequest = Code("invalid request")
        /// The configuration (environment variables) is invalid.
        public static let configuration = Code("configuration")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
