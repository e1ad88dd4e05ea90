import Foundation

/// Runs a program to completion and captures what it prints.
struct ExternalCommand {
    struct Output {
        let status: Int32
        let text: String
    }

    let executable: String
    let arguments: [String]

    /// Runs the program as the `postgres` user when this process is root, since
    /// `initdb` and `postgres` refuse to run as root.
    static func asDatabaseOwner(_ executable: String, _ arguments: [String]) -> ExternalCommand {
        getuid() == 0
            ? ExternalCommand(executable: "/usr/sbin/runuser", arguments: ["-u", "postgres", "--", executable] + arguments)
            : ExternalCommand(executable: executable, arguments: arguments)
    }

    /// Runs and waits; standard output and error are captured together.
    func run() throws -> Output {
        let capture = FileManager.default.temporaryDirectory.appending(path: "baton-\(UUID().uuidString).out").path
        defer { unlink(capture) }
        let child = try ChildProcess.spawn(executable, arguments, standardOutput: capture, standardError: capture)
        let status = child.waitBlocking()
        return Output(status: status, text: (try? String(contentsOfFile: capture, encoding: .utf8)) ?? "")
    }
}
