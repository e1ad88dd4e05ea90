import ArgumentParser
import Baton
import Foundation

extension CostGrouping: ExpressibleByArgument {}

struct CostsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "costs", abstract: "Model calls' cost and tokens per workflow, model or day, dearest first."
    )

    @Option(help: "What to total by: workflow, model or day.")
    var by: CostGrouping = .workflow

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let lines = try await CommandDatabase.with { database in try await database.store.costs(by: by) }
        try output.report(lines) {
            guard !lines.isEmpty else { return print("No model calls yet.") }
            let width = max(by.rawValue.count, lines.map(\.key.count).max() ?? 0)
            print(by.rawValue.padding(toLength: width, withPad: " ", startingAt: 0) + "   calls   tokens in  tokens out    cost USD")
            for line in lines {
                print(
                    line.key.padding(toLength: width, withPad: " ", startingAt: 0)
                        + String(format: "  %6d  %10d  %10d  ", line.calls, line.tokensIn, line.tokensOut)
                        + String(repeating: " ", count: max(0, 10 - "\(line.costUSD)".count)) + "\(line.costUSD)"
                )
            }
        }
    }
}
