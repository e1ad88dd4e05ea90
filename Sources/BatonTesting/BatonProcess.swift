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
    public let workingDirectory: URL?

    /// - Parameter environment: added to this process's environment.
    public init(_ arguments: [String], environment: [String: String] = [:], workingDirectory: URL? = nil) {
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    /// Starts the process without waiting, for tests that run several at once or signal it.
    public func start() throws -> Process {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs to completion and returns what it printed.
    public func run() async throws -> Result {
        let output = Pipe()
        let errors = Pipe()
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        let finished = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { finished.continuation.yield($0.terminationStatus) }
        try process.run()
        async let standardOutput = Task.detached { output.fileHandleForReading.readDataToEndOfFile() }.value
        async let standardError = Task.detached { errors.fileHandleForReading.readDataToEndOfFile() }.value
        var status: Int32 = -1
        for await value in finished.stream {
            status = value
            break
        }
        return Result(
            status: status,
            standardOutput: String(decoding: await standardOutput, as: UTF8.self),
            standardError: String(decoding: await standardError, as: UTF8.self)
        )
    }
}
