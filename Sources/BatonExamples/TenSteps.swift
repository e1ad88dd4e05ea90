import Baton
import Foundation

/// Ten action states, one step each: the workload of the crash tests and benchmarks.
///
/// Each step can take `stepMilliseconds` (so a crash lands mid-run) and, when
/// `BATON_STEP_LOG` names a file, appends `idempotency-key<TAB>microseconds since 1970`
/// to it as it starts, so a test can prove no journaled step ran again. With `ledger`
/// set, each transition also inserts `(run_id, state)` into the table `example_ledger`
/// (which the caller creates) in the transition's transaction: a business write.
public struct TenSteps: Workflow {
    public static let name = "ten-steps"
    public static let version = 1

    public struct Context: Codable, Sendable {
        public var stepMilliseconds: Int
        public var completed: Int
        public var ledger: Bool

        public init(stepMilliseconds: Int = 0, completed: Int = 0, ledger: Bool = false) {
            self.stepMilliseconds = stepMilliseconds
            self.completed = completed
            self.ledger = ledger
        }

        /// Missing fields take their defaults, so `{}` starts a run.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            stepMilliseconds = try container.decodeIfPresent(Int.self, forKey: .stepMilliseconds) ?? 0
            completed = try container.decodeIfPresent(Int.self, forKey: .completed) ?? 0
            ledger = try container.decodeIfPresent(Bool.self, forKey: .ledger) ?? false
        }
    }

    public enum State: String, WorkflowState {
        case step1, step2, step3, step4, step5, step6, step7, step8, step9, step10, done
    }

    public static var definition: Definition<Self> {
        Definition(initial: .step1) {
            for (state, next) in zip(State.allCases.dropLast(), State.allCases.dropFirst()) {
                Action(state, to: next) { run in
                    let milliseconds = run.context.stepMilliseconds
                    run.context.completed = try await run.step(state.rawValue) { attempt in
                        StepLog.record(attempt.idempotencyKey)
                        if milliseconds > 0 { try await Task.sleep(for: .milliseconds(milliseconds)) }
                        return run.context.completed + 1
                    }
                    if run.context.ledger {
                        let runID = run.runID
                        run.withinTransition { connection in
                            try await connection.query("INSERT INTO example_ledger (run_id, state) VALUES (\(runID), \(state.rawValue))")
                        }
                    }
                    return next
                }
            }
            Terminal(.done)
        }
    }
}

/// Appends step executions to the file `BATON_STEP_LOG` names, if any.
enum StepLog {
    static let path = ProcessInfo.processInfo.environment["BATON_STEP_LOG"].flatMap { $0.isEmpty ? nil : $0 }

    /// The key is written only when there is a log: most runs (the benchmarks') keep none.
    static func record(_ key: @autoclosure () -> String) {
        guard let path else { return }
        let micros = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let line = Array("\(key())\t\(micros)\n".utf8)
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard descriptor >= 0 else { return }
        _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
    }
}
