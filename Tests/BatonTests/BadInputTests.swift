import Baton
import BatonExamples
import BatonTesting
import Foundation
import LibPQ
import Testing

/// A small, fast, seedable generator (SplitMix64), so a failing case can be replayed:
/// every failure message names the seed. `BATON_FUZZ_SEED` fixes it.
struct SeededGenerator: RandomNumberGenerator {
    private(set) var state: UInt64

    init(seed: UInt64) { state = seed }

    /// The seed from `BATON_FUZZ_SEED`, or a fresh random one.
    static func seed() -> UInt64 {
        ProcessInfo.processInfo.environment["BATON_FUZZ_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random damage to a valid text: characters deleted, inserted, repeated and swapped,
/// the text cut short, values swapped for other types, nesting made deep.
struct Mutator {
    /// Characters that matter to JSON and to shells, and some that matter to neither.
    static let alphabet = Array(#"{}[]":,.-+eE0123456789 \/tnrfaluésx"#) + ["\u{00}", "\u{7f}", "\u{1F600}", "\u{FFFF}"]
    static let replacements = [
        "null", "true", "-1", "1e400", "\"\"", "[]", "{}", "\"\\u0000\"", "\"\\ud800\"", "9223372036854775808",
        String(repeating: "[", count: 600) + String(repeating: "]", count: 600), "\"" + String(repeating: "x", count: 5_000) + "\"",
    ]

    static func mutate(_ text: String, using generator: inout SeededGenerator) -> String {
        var characters = Array(text)
        for _ in 0..<Int.random(in: 1...3, using: &generator) {
            let at = characters.isEmpty ? 0 : Int.random(in: 0..<characters.count, using: &generator)
            switch Int.random(in: 0..<7, using: &generator) {
            case 0 where !characters.isEmpty: characters.remove(at: at)
            case 1: characters.insert(alphabet.randomElement(using: &generator)!, at: at)
            case 2 where !characters.isEmpty: characters.insert(contentsOf: characters[at...].prefix(8), at: at)
            case 3 where !characters.isEmpty: characters = Array(characters.prefix(at))
            case 4:
                // Replace the first value after a colon with one of another type.
                if let colon = characters[at...].firstIndex(of: ":") ?? characters.firstIndex(of: ":") {
                    let end = characters[(colon + 1)...].firstIndex { $0 == "," || $0 == "}" } ?? characters.endIndex
                    characters.replaceSubrange((colon + 1)..<end, with: Array(replacements.randomElement(using: &generator)!))
                }
            case 5: characters = Array(replacements.randomElement(using: &generator)!)
            default:
                let other = Int.random(in: 0..<max(1, characters.count), using: &generator)
                if !characters.isEmpty { characters.swapAt(at, other) }
            }
        }
        return String(characters)
    }
}

@Suite("Bad input: fuzzed definitions and policy files")
struct DefinitionAndPolicyFuzzTests {
    enum State: String, WorkflowState { case s0, s1, s2, s3, s4, s5 }

    struct Fuzzed: Workflow {
        static let name = "fuzzed"
        static let version = 1
        struct Context: Codable, Sendable {}
        typealias State = DefinitionAndPolicyFuzzTests.State
        static var definition: Definition<Self> { Definition(initial: .s0) { Terminal(.s0) } }
    }

    /// One generated declaration: its kind and where it leads.
    struct Declaration: CustomStringConvertible {
        enum Kind { case action, wait, waitWithTimeout, sleep, terminal }
        let state: State
        let kind: Kind
        let targets: [State]

        var description: String { "\(kind) \(state.rawValue) → \(targets.map(\.rawValue))" }

        var stateDefinitions: [StateDefinition<Fuzzed>] {
            let body: ActionBody<Fuzzed> = { _ in .s0 }
            switch (kind, targets.count) {
            case (.action, 0): return StateBuilder<Fuzzed>.buildExpression(Action(state, body: body))
            case (.action, 1): return StateBuilder<Fuzzed>.buildExpression(Action(state, to: targets[0], body: body))
            case (.action, _): return StateBuilder<Fuzzed>.buildExpression(Action(state, to: targets[0], targets[1], body: body))
            case (.wait, 1): return StateBuilder<Fuzzed>.buildExpression(Wait(state, on: ["a": targets[0]]))
            case (.wait, _): return StateBuilder<Fuzzed>.buildExpression(Wait(state, on: ["a": targets[0], "b": targets[1]]))
            case (.waitWithTimeout, _):
                return StateBuilder<Fuzzed>.buildExpression(Wait(state, on: ["a": targets[0]], timeout: .after(.seconds(5), goto: targets[1])))
            case (.sleep, _): return StateBuilder<Fuzzed>.buildExpression(Sleep(state, for: .seconds(1), then: targets[0]))
            case (.terminal, _): return StateBuilder<Fuzzed>.buildExpression(Terminal(state))
            }
        }
    }

    static func randomDeclarations(using generator: inout SeededGenerator) -> [Declaration] {
        var declarations: [Declaration] = []
        for state in State.allCases {
            let copies = switch Int.random(in: 0..<40, using: &generator) {
            case 0: 0  // undeclared
            case 1: 2  // declared twice
            default: 1
            }
            // Mostly forward to the next state, so that valid definitions are common too.
            let next = State.allCases[(State.allCases.firstIndex(of: state)! + 1) % State.allCases.count]
            for _ in 0..<copies {
                let kinds: [Declaration.Kind] = state == .s5 ? [.terminal, .terminal, .action] : [.action, .action, .action, .wait, .waitWithTimeout, .sleep, .terminal]
                let kind = kinds.randomElement(using: &generator)!
                let count = switch kind {
                case .action: Int.random(in: 0..<10, using: &generator) == 0 ? 0 : Int.random(in: 1...2, using: &generator)
                case .wait: Int.random(in: 1...2, using: &generator)
                case .waitWithTimeout: 2
                case .sleep: 1
                case .terminal: 0
                }
                let targets = (0..<count).map { _ in Int.random(in: 0..<3, using: &generator) == 0 ? State.allCases.randomElement(using: &generator)! : next }
                declarations.append(Declaration(state: state, kind: kind, targets: targets))
            }
        }
        return declarations.shuffled(using: &generator)
    }

    /// The problems a definition has, worked out independently of `Definition.problems()`.
    static func expectedProblems(_ declarations: [Declaration], initial: State) -> Set<DefinitionError.Code> {
        var codes: Set<DefinitionError.Code> = []
        var first: [State: Declaration] = [:]
        for declaration in declarations {
            if first[declaration.state] != nil { codes.insert(.duplicate) } else { first[declaration.state] = declaration }
        }
        if State.allCases.contains(where: { first[$0] == nil }) { codes.insert(.undeclaredState) }
        if declarations.contains(where: { $0.targets.contains { first[$0] == nil } }) { codes.insert(.unknownTarget) }
        if declarations.contains(where: { $0.kind == .action && $0.targets.isEmpty }) { codes.insert(.invalidState) }
        guard first[initial] != nil else { return codes.union([.unknownTarget]) }
        var reached: Set<State> = [initial]
        var frontier = [initial]
        while let state = frontier.popLast() {
            for target in first[state]?.targets ?? [] where reached.insert(target).inserted { frontier.append(target) }
        }
        if declarations.contains(where: { !reached.contains($0.state) }) { codes.insert(.unreachableState) }
        if !declarations.contains(where: { $0.kind == .terminal && reached.contains($0.state) }) { codes.insert(.noReachableTerminal) }
        return codes
    }

    @Test func randomDefinitionsAreRefusedExactlyWhenTheyAreInvalidAndEachErrorNamesTheWorkflow() {
        let seed = SeededGenerator.seed()
        var generator = SeededGenerator(seed: seed)
        var (tried, refused) = (0, 0)
        for _ in 0..<2_000 {
            let declarations = Self.randomDeclarations(using: &generator)
            let initial = Int.random(in: 0..<4, using: &generator) == 0 ? State.allCases.randomElement(using: &generator)! : .s0
            // A closure with a `return` skips the result builder: the states go in as made.
            let definition = Definition<Fuzzed>(initial: initial) { return declarations.flatMap(\.stateDefinitions) }
            let problems = definition.problems()
            let expected = Self.expectedProblems(declarations, initial: initial)
            tried += 1
            if !problems.isEmpty { refused += 1 }
            #expect(Set(problems.map(\.code)) == expected, "seed \(seed), initial \(initial.rawValue): \(declarations) gave \(problems)")
            #expect(problems.allSatisfy { $0.message.hasPrefix("workflow fuzzed v1: ") && !$0.message.contains("\n") }, "seed \(seed)")
        }
        print("definitions: \(tried) tried, \(refused) refused, \(tried - refused) valid, 0 crashes (seed \(seed))")
        #expect(refused > 0 && refused < tried, "seed \(seed): the generator should make both kinds")
    }

    @Test func damagedPolicyFilesAreRefusedWithAPolicyErrorOrReadWhole() throws {
        let seed = SeededGenerator.seed()
        var generator = SeededGenerator(seed: seed)
        let demo = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appending(path: "../../ops/demo-policies.json"), encoding: .utf8
        )
        var (tried, refused) = (0, 0)
        for _ in 0..<2_000 {
            let damaged = Mutator.mutate(demo, using: &generator)
            let asYAML = Bool.random(using: &generator)
            tried += 1
            do {
                let book = asYAML ? try PolicyBook.parseYAML(Data(damaged.utf8)) : try PolicyBook.parse(Data(damaged.utf8))
                // Read whole: every policy it lists passed every check and is in the book
                // (a damage can leave a valid file, even one that lists none).
                let document = asYAML ? try ConfigurationFile.json(fromYAML: Data(damaged.utf8)) : Data(damaged.utf8)
                let listed = (try JSONSerialization.jsonObject(with: document) as? [String: Any])?["policies"] as? [[String: Any]]
                #expect(Set(book.policies.keys) == Set((listed ?? []).compactMap { $0["name"] as? String }), "seed \(seed): \(damaged)")
            } catch let error as PolicyError {
                refused += 1
                #expect(!error.message.isEmpty && !error.message.contains("\n"), "seed \(seed): \(damaged) gave \(error.message)")
            } catch {
                Issue.record("seed \(seed): \(damaged) threw \(type(of: error)), not a PolicyError: \(error)")
            }
        }
        print("policy files: \(tried) tried, \(refused) refused, 0 crashes (seed \(seed))")
        #expect(refused > tried / 2, "seed \(seed)")
    }
}

@Suite("Bad input: fuzzed command lines, run inputs and events", .tags(.database, .process))
struct CommandLineFuzzTests {
    /// Rows in the tables a refused command must leave alone.
    static func rowCounts(_ connection: PostgresConnection) async throws -> [Int] {
        let row = try await connection.query("""
            SELECT (SELECT count(*) FROM baton.runs), (SELECT count(*) FROM baton.journal), (SELECT count(*) FROM baton.events),
                   (SELECT count(*) FROM baton.approvals), (SELECT coalesce(sum(length(context::text)), 0) FROM baton.runs)
            """)[0]
        return try (0..<5).map { try row.decode(Int.self, at: $0) }
    }

    @Test func everyRefusalIsOneClearLineAndChangesNothing() async throws {
        try await TestDatabase.withFreshConnection { connection, configuration in
            try await Migrator(migrations: try Migration.bundled()).migrate(connection)
            let environment = ["BATON_DATABASE_URL": configuration.connectionString, "BATON_MAX_PAYLOAD_BYTES": "4096"]
            let store = RunStore(pool: PostgresPool(configuration: configuration, maxConnections: 1), workerID: "fuzz")
            let waiting = try await store.start(TenSteps.self, context: .init()).runID
            let finished = try await store.start(TenSteps.self, context: .init()).runID
            try await connection.query("UPDATE baton.runs SET status = 'succeeded', state = 'done', finished_at = now() WHERE id = \(finished)")
            await store.pool.close()

            let seed = SeededGenerator.seed()
            var generator = SeededGenerator(seed: seed)
            let validInput = #"{"stepMilliseconds": 1, "completed": 0, "ledger": false}"#
            let words = ["start", "send", "cancel", "show", "runs", "approve", "reject", "--input", "--data", "--key", "--json", "--limit",
                         "--status", "--as", "-1", "ten-steps", "order-delay", "", " ", "@", "@/dev/null", "--", "999999999999999999999",
                         waiting.uuidString, finished.uuidString, "carrier-confirmed"]
            var (tried, accepted, refused, usage) = (0, 0, 0, 0)
            for index in 0..<120 {
                let arguments: [String] = switch index % 4 {
                case 0: ["start", "ten-steps", "--input", Mutator.mutate(validInput, using: &generator)]
                case 1: ["send", [waiting, finished].randomElement(using: &generator)!.uuidString, "nudge", "--data", Mutator.mutate(validInput, using: &generator)]
                case 2: ["start", Mutator.mutate("ten-steps", using: &generator), "--key", Mutator.mutate("order-1", using: &generator)]
                default: (0..<Int.random(in: 1...5, using: &generator)).map { _ in words.randomElement(using: &generator)! }
                }
                // Arguments can't carry NUL bytes; the rest of the damage stays.
                let cleaned = arguments.map { $0.replacingOccurrences(of: "\u{00}", with: "") }
                let before = try await Self.rowCounts(connection)
                let result = try await BatonProcess(cleaned, environment: environment).run()
                let after = try await Self.rowCounts(connection)
                tried += 1
                let shown = "seed \(seed): baton \(cleaned.map { "'\($0.prefix(80))'" }.joined(separator: " "))"
                switch result.status {
                case 0:
                    accepted += 1
                case 1:
                    refused += 1
                    #expect(result.standardError.hasPrefix("baton: "), "\(shown) said \(result.standardError)")
                    #expect(result.standardError.split(separator: "\n").count == 1, "\(shown) said \(result.standardError)")
                    #expect(after == before, "\(shown) was refused but changed rows")
                case 2:
                    usage += 1
                    #expect(result.standardError.contains("Error: ") || result.standardError.contains("Usage: "), "\(shown) said \(result.standardError)")
                    #expect(after == before, "\(shown) was a usage error but changed rows")
                default:
                    Issue.record("\(shown) exited \(result.status) (a crash?): \(result.standardError)")
                }
            }
            print("command lines: \(tried) tried, \(accepted) accepted, \(refused) refused, \(usage) usage errors, 0 crashes (seed \(seed))")
            #expect(refused > 0)
            // The finished run took no event, and the waiting one only what was accepted.
            #expect(try await connection.query("SELECT count(*) FROM baton.events WHERE run_id = \(finished)").scalar(Int.self) == 0)
        }
    }
}
