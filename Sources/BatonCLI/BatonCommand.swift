import ArgumentParser
import Baton
import Foundation

/// The `baton` command: exit status 0 on success, 1 on failure, 2 on a usage error.
@main
struct BatonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton",
        abstract: "Durable AI workflows on PostgreSQL.",
        discussion: """
            With BATON_DATABASE_URL unset, baton uses a private PostgreSQL cluster in .baton/ \
            in the working directory, created and started on first use.
            """,
        version: Baton.version,
        subcommands: [
            WorkflowsCommand.self, StartCommand.self, RunsCommand.self, ShowCommand.self, SendCommand.self, CancelCommand.self,
            ApprovalsCommand.self, ApproveCommand.self, RejectCommand.self, SuggestionsCommand.self, CostsCommand.self,
            WorkerCommand.self, VerifyCommand.self, MigrateCommand.self, DatabaseCommand.self, VersionCommand.self,
        ]
    )

    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch {
            Foundation.exit(report(error))
        }
    }

    /// Prints `error` where it belongs and returns the exit status for it.
    private static func report(_ error: any Error) -> Int32 {
        if let exit = error as? ExitCode { return exit.rawValue }  // the command said what it had to
        switch exitCode(for: error) {
        case .success:
            print(fullMessage(for: error))
            return 0
        case .validationFailure:
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            return 2
        case .failure:
            FileHandle.standardError.write(Data("baton: \(oneLine(error))\n".utf8))
            return 1
        case let other:
            return other.rawValue
        }
    }
}
