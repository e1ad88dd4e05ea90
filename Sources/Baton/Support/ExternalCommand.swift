import Foundation

/// Runs a program to completion and captures what it prints.
///
/// Uses `posix_spawn` and `waitpid` directly: Foundation's `Process.waitUntilExit`
/// was seen here never returning when called from async code on Linux.
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

    /// Runs and waits. Standard output and error go to one file rather than a pipe,
    /// so a server the command leaves running (pg_ctl start) can't hold a pipe open.
    func run() throws -> Output {
        let capture = FileManager.default.temporaryDirectory.appending(path: "baton-\(UUID().uuidString).out").path
        defer { unlink(capture) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, capture, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw BatonError(.embeddedDatabase, "could not run \(executable): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: capture, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
        let exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Output(status: exitStatus, text: text)
    }
}
