import Baton
import BatonExamples
import Foundation
import LibPQ

/// What the run commands share: the database, a store writing as this command, and
/// the workflows this binary carries.
struct CommandDatabase {
    let pool: PostgresPool
    let store: RunStore
    let registry: WorkflowRegistry

    /// Where approvals are listed and decided.
    var desk: ApprovalDesk { ApprovalDesk(store: store, registry: registry) }

    /// Opens the configured database (or the embedded one), runs `body`, closes it.
    static func with<Result>(_ body: (CommandDatabase) async throws -> Result) async throws -> Result {
        let settings = try BatonConfiguration.fromEnvironment()
        let configuration = try await settings.resolveDatabase()
        let pool = PostgresPool(configuration: configuration, maxConnections: 2)
        let database = CommandDatabase(
            pool: pool,
            store: RunStore(
                pool: pool, workerID: "cli-\(ProcessInfo.processInfo.hostName)-\(getpid())", maxPayloadBytes: settings.maxPayloadBytes
            ),
            registry: try Examples.registry()
        )
        do {
            let result = try await body(database)
            await pool.close()
            return result
        } catch {
            await pool.close()
            throw error
        }
    }
}

/// Reads `--input`/`--data`: inline JSON, or `@path` for a file. Checks it is JSON.
func readJSON(_ argument: String, option: String) throws -> Data {
    let data: Data
    if argument.hasPrefix("@") {
        let path = String(argument.dropFirst())
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw BatonError(.invalidRequest, "\(option): can't read \(path)")
        }
        data = contents
    } else {
        data = Data(argument.utf8)
    }
    guard (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil else {
        throw BatonError(.invalidRequest, "\(option) is not valid JSON: \(String(decoding: data.prefix(40), as: UTF8.self))")
    }
    return data
}

/// Parses a run id argument.
func parseRunID(_ text: String) throws -> UUID {
    try parseID(text, of: "run")
}

/// `text` as the id (a UUID) of a `thing`, or a clear error.
func parseID(_ text: String, of thing: String) throws -> UUID {
    guard let id = UUID(uuidString: text) else { throw BatonError(.invalidRequest, "\(text) is not \(thing == "approval" ? "an" : "a") \(thing) id (a UUID)") }
    return id
}
