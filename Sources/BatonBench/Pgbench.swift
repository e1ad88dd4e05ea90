import Baton
import Foundation
import LibPQ

/// Runs pgbench with a custom script against the benchmark database.
enum Pgbench {
    /// Transactions per second of `script` at `clients` clients for `seconds`.
    static func transactionsPerSecond(
        script: String, clients: Int, seconds: Int, mode: String, configuration: PostgresConfiguration
    ) throws -> Double {
        let folder = FileManager.default.temporaryDirectory.appending(path: "baton-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let scriptPath = folder.appending(path: "script.sql").path
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let output = folder.appending(path: "pgbench.out").path
        let pgbench = try ChildProcess.spawn(
            try EmbeddedDatabase.findBinDirectory().appending(path: "pgbench").path,
            ["-n", "-M", mode, "-c", "\(clients)", "-j", "\(min(clients, 2))", "-T", "\(seconds)", "-f", scriptPath,
             configuration.connectionString],
            standardOutput: output,
            standardError: output
        )
        let status = pgbench.waitBlocking()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0,
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
              let tps = Double(line.dropFirst("tps = ".count).prefix { $0 != " " })
        else {
            throw BenchError(message: "pgbench failed (exit \(status)):\n\(text)")
        }
        return tps
    }
}
