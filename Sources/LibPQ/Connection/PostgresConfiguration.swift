import Foundation
import CLibPQ

/// Where and how to connect: a `postgresql://` URL or a libpq `key=value` string.
///
/// ```swift
/// let local = try PostgresConfiguration("postgresql://baton@localhost:5432/baton")
/// let socket = try PostgresConfiguration("host=/srv/baton/run dbname=baton user=postgres")
/// ```
/// The string is checked when the configuration is made; its password never
/// appears in ``description`` or in any error.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// The string libpq connects with. Treat it as a secret: it may hold a password.
    public let connectionString: String
    /// The host (or unix socket directory) named by the string, if any.
    public let host: String?
    public let port: String?
    public let database: String?
    public let user: String?

    /// Parses `connectionString`; throws if libpq can't read it.
    public init(_ connectionString: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &errorMessage) else {
            let reason = errorMessage.map { String(cString: $0) } ?? "unreadable"
            PQfreemem(errorMessage)
            throw PostgresError(
                code: .connectionFailed,
                message: "invalid connection string: \(reason.trimmingTrailingWhitespace())"
            )
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                values[String(cString: keyword)] = String(cString: value)
            }
            option += 1
        }
        self.connectionString = connectionString
        parameters = values
        host = values["host"] ?? values["hostaddr"]
        port = values["port"]
        database = values["dbname"]
        user = values["user"]
    }

    /// `database "baton" at /srv/run:5432 as user "postgres"`, never the password.
    public var description: String {
        "database \"\(database ?? user ?? "default")\" at \(host ?? "the default host"):\(port ?? "5432")"
            + (user.map { " as user \"\($0)\"" } ?? "")
    }

    /// The same server and credentials, another database.
    public func replacingDatabase(with name: String) throws -> PostgresConfiguration {
        var parameters = self.parameters
        parameters["dbname"] = name
        return try PostgresConfiguration(Self.keywordValueString(parameters))
    }

    /// Every keyword the string sets explicitly (no defaults).
    let parameters: [String: String]

    /// `key='value' …`, quoted the way libpq reads it.
    private static func keywordValueString(_ parameters: [String: String]) -> String {
        parameters.sorted { $0.key < $1.key }.map { keyword, value in
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
            return "\(keyword)='\(escaped)'"
        }.joined(separator: " ")
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var text = self
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }
}
