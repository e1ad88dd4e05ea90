import Baton
import Foundation

/// The built `baton` executable, run as a real process, for tests that need one
/// (concurrent migrations, the embedded database, crashes).
public struct BatonProcess: Sendable {
    /// What a finished run printed and how it exited.
    public struct Result: Sendable {
        public let status: Int32
        public let standardOutput: String
        public let standardError: String
    }

    /// `BATON_EXECUTABLE` if set, else `baton` beside the test bundle in `.build`.
    public static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["BATON_EXECUTABLE"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !folder.path.isEmpty, folder.path != "/" {
            let candidate = folder.appending(path: "baton")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: "baton")
    }

    public let arguments: [String]
    public let environment: [String: String]

    /// - Parameter environment: added to this process's environment.
    public init(_ arguments: [String], environment: [String: String] = [:]) {
        self.arguments = arguments
        self.environment = environment
    }

    /// Starts the process without waiting for it (a worker, to be signalled later);
    /// its output goes to `log`.
    package func start(log: String) throws -> ChildProcess {
        try ChildProcess.spawn(
            Self.executable.path, arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
            standardOutput: log, standardError: log
        )
    }

    /// Runs to completion and returns what it printed.
    public func run() async throws -> Result {
        try await ScratchFolder.with("baton-process") { folder in
            let output = folder.appending(path: "stdout").path
            let errors = folder.appending(path: "stderr").path
            let child = try ChildProcess.spawn(
                Self.executable.path,
                arguments,
                environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
                standardOutput: output,
                standardError: errors
            )
            let status = await child.exitStatus()
            return Result(
                status: status,
                standardOutput: (try? String(contentsOfFile: output, encoding: .utf8)) ?? "",
                standardError: (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            )
        }
    }
}
