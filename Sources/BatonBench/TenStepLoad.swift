import Baton
import BatonExamples
import LibPQ

/// A fresh Baton schema holding `runs` runs of the ten-step no-op workflow, ready to be
/// worked off: the starting point of every engine measurement.
struct TenStepLoad {
    let runs: Int
    var context = TenSteps.Context()

    func prepare(_ admin: PostgresConnection, store: RunStore, progress: Progress) async throws {
        try await admin.runScript("DROP SCHEMA IF EXISTS baton CASCADE")
        try await Migrator(migrations: try Migration.bundled()).migrate(admin)
        progress.say("  starting \(runs) runs …")
        let context = context
        try await withThrowingTaskGroup(of: Void.self) { starters in
            for starter in 0..<8 {
                starters.addTask {
                    for _ in stride(from: starter, to: runs, by: 8) { _ = try await store.start(TenSteps.self, context: context) }
                }
            }
            try await starters.waitForAll()
        }
        // What autovacuum would do a moment later: the claim's plan depends on these statistics.
        try await admin.runScript("ANALYZE baton.runs; CHECKPOINT")
    }
}
