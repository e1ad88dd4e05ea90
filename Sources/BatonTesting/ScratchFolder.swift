import Foundation

/// A folder of a test's own under the temporary directory, for the files of the processes
/// it starts (logs, step logs, policy files), removed once the test is done with it.
public enum ScratchFolder {
    /// Creates a new folder named `name` and a random suffix, runs `body` with it, then
    /// removes the folder and everything in it, whether `body` returned or threw.
    public static func with<Result>(_ name: String, _ body: (URL) async throws -> Result) async throws -> Result {
        let folder = FileManager.default.temporaryDirectory.appending(path: "\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        return try await body(folder)
    }
}
