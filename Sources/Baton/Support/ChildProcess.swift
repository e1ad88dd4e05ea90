import Foundation

/// A program started with `posix_spawn`, its output sent to files, reaped with `waitpid`.
///
/// Foundation's `Process` was seen here never reporting the exit of a child that
/// leaves a daemon behind (`pg_ctl start`, `baton db start`): the child stays a
/// zombie and `waitUntilExit` or `terminationHandler` never return. Files instead of
/// pipes also mean a daemon that inherits them can't keep a reader waiting. The child
/// starts with no signal blocked, whatever the spawning thread blocks.
package struct ChildProcess: Sendable {
    /// The process id, for signals (`kill(pid, SIGKILL)`).
    package let pid: pid_t

    /// Starts `executable`. Standard input is `/dev/null`; standard output and error
    /// go to the given files (created or truncated; the same path for both merges them).
    package static func spawn(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        standardOutput: String,
        standardError: String
    ) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, standardOutput, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if standardError == standardOutput {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, standardError, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let variables = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer {
            argv.forEach { free($0) }
            variables?.forEach { free($0) }
        }
        // Threads of a Swift process block most signals; a child would inherit that
        // mask (pgbench's -T timer never fired). Start it with none blocked, all default.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        var allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let spawned = variables.map { posix_spawn(&pid, executable, &actions, &attributes, argv, $0) }
            ?? posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard spawned == 0 else {
            throw BatonError(.process, "could not run \(executable): \(String(cString: strerror(spawned)))")
        }
        return ChildProcess(pid: pid)
    }

    /// Blocks the calling thread until the process ends; returns its exit status
    /// (128 + the signal number if a signal ended it).
    package func waitBlocking() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Waits for the process to end on a thread of its own, never on the cooperative pool.
    package func exitStatus() async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: waitBlocking()) }.start()
        }
    }
}
