import Baton
import Testing

/// A valid workflow: an action with a branch, a wait with a timeout, a sleep, terminals.
struct Shipment: Workflow {
    static let name = "shipment"
    static let version = 1
    struct Context: Codable, Sendable { var inStock = 0; var plan: String? }
    enum State: String, WorkflowState { case assess, plan, awaitCarrier, cooldown, done, cancelled }

    static var definition: Definition<Self> {
        Definition(initial: .assess) {
            Action(.assess, to: .done, .plan) { run in run.context.inStock > 0 ? .done : .plan }
            Action(.plan, to: .awaitCarrier, onError: .cancelled) { run in
                run.context.plan = "reroute"
                return .awaitCarrier
            }
            Wait(.awaitCarrier, on: ["confirmed": .done, "declined": .cooldown], timeout: .after(.seconds(3600), goto: .cancelled))
            Sleep(.cooldown, for: .seconds(60), then: .plan)
            Terminal(.done)
            Terminal(.cancelled, outcome: .cancelled)
        }
    }
}

/// A workflow whose definition is given per test, to show each validation error.
enum Broken {
    enum State: String, WorkflowState { case start, middle, loop, end }
    struct Context: Codable, Sendable {}
}

struct UnknownTarget: Workflow {
    static let name = "unknown-target"
    static let version = 1
    typealias Context = Broken.Context
    typealias State = Broken.State
    static var definition: Definition<Self> {
        Definition(initial: .start) {
            Action(.start, to: .middle) { _ in .middle }
            Action(.loop, to: .end) { _ in .end }
            Terminal(.end)
        }
    }
}

struct Unreachable: Workflow {
    static let name = "unreachable"
    static let version = 2
    typealias Context = Broken.Context
    typealias State = Broken.State
    static var definition: Definition<Self> {
        Definition(initial: .start) {
            Action(.start, to: .end) { _ in .end }
            Action(.middle, to: .end) { _ in .end }
            Sleep(.loop, for: .seconds(1), then: .middle)
            Terminal(.end)
        }
    }
}

struct NeverFinishes: Workflow {
    static let name = "never-finishes"
    static let version = 1
    typealias Context = Broken.Context
    typealias State = Broken.State
    static var definition: Definition<Self> {
        Definition(initial: .start) {
            Action(.start, to: .loop) { _ in .loop }
            Action(.loop, to: .start) { _ in .start }
            Wait(.middle, on: ["go": .end])
            Terminal(.end)
        }
    }
}

struct Duplicates: Workflow {
    static let name = "duplicates"
    static let version = 1
    typealias Context = Broken.Context
    typealias State = Broken.State
    static var definition: Definition<Self> {
        Definition(initial: .start) {
            Wait(.start, on: ["go": .middle, "go": .end])
            Sleep(.middle, for: .zero, then: .loop)
            Wait(.loop, on: [:], timeout: .after(.seconds(-1), goto: .end))
            Terminal(.end)
            Terminal(.end, outcome: .failed)
        }
    }
}

struct BadIdentity: Workflow {
    static let name = "bad name!"
    static let version = 0
    typealias Context = Broken.Context
    typealias State = Broken.State
    static var definition: Definition<Self> {
        Definition(initial: .start) {
            Action(.start, to: .middle) { _ in .middle }
            Action(.middle, to: .loop) { _ in .loop }
            Action(.loop, to: .end) { _ in .end }
            Terminal(.end)
        }
    }
}

@Suite("Workflow definitions are validated when registered")
struct DefinitionTests {
    func problems<W: Workflow>(_ workflow: W.Type) -> [DefinitionError] {
        W.definition.problems()
    }

    @Test func aValidDefinitionHasNoProblems() throws {
        #expect(problems(Shipment.self).isEmpty)
        var registry = WorkflowRegistry()
        try registry.register(Shipment.self)
        let registered = try #require(registry.workflow(named: "shipment"))
        #expect(registered.initialState == "assess")
        #expect(registered.states.map(\.name) == ["assess", "plan", "awaitCarrier", "cooldown", "done", "cancelled"])
        #expect(registered.states[1].targets == ["awaitCarrier", "cancelled"])
        #expect(registered.states[2].targets == ["done", "cooldown", "cancelled"])
        #expect(registered.states[5].kind == "terminal (cancelled)")
    }

    @Test func aTransitionToAnUndeclaredStateNamesTheWorkflowAndBothStates() {
        let found = problems(UnknownTarget.self)
        #expect(found.map(\.code).contains(.unknownTarget))
        #expect(found.map(\.message).contains("workflow unknown-target v1: state start leads to middle, which is not declared"))
        #expect(found.map(\.message).contains("workflow unknown-target v1: state middle has no declaration (Action, Wait, Sleep, Children, Approval or Terminal)"))
        #expect(found.map(\.message).contains("workflow unknown-target v1: state loop can never be reached from start"))
    }

    @Test func aStateNoRunCanEnterIsUnreachable() {
        let found = problems(Unreachable.self)
        #expect(found.map(\.code) == [.unreachableState, .unreachableState])
        #expect(found.map(\.message) == [
            "workflow unreachable v2: state middle can never be reached from start",
            "workflow unreachable v2: state loop can never be reached from start",
        ])
    }

    @Test func aDefinitionThatCanNeverFinishIsRefused() {
        let found = problems(NeverFinishes.self)
        #expect(found.map(\.code).contains(.noReachableTerminal))
        #expect(found.map(\.message).contains("workflow never-finishes v1: no terminal state can be reached from start, so no run could ever finish"))
    }

    @Test func duplicatesAndNonPositiveDurationsAreRefused() {
        let messages = problems(Duplicates.self).map(\.message)
        #expect(messages.contains("workflow duplicates v1: state end is declared more than once"))
        #expect(messages.contains("workflow duplicates v1: wait start names event \"go\" more than once"))
        #expect(messages.contains("workflow duplicates v1: sleep middle lasts 0.0 seconds; it must be positive"))
        #expect(messages.contains("workflow duplicates v1: wait loop has a timeout of -1.0 seconds; it must be positive"))
    }

    @Test func aNameThatIsNotASlugAndAVersionBelowOneAreRefused() {
        #expect(problems(BadIdentity.self).map(\.code) == [.invalidIdentity, .invalidIdentity])
    }

    @Test func registeringRefusesABadDefinitionAndASecondCopy() throws {
        var registry = WorkflowRegistry()
        let error = #expect(throws: DefinitionError.self) { try registry.register(Unreachable.self) }
        #expect(error?.code == .unreachableState)
        #expect(registry.workflows.isEmpty)
        try registry.register(Shipment.self)
        let duplicate = #expect(throws: DefinitionError.self) { try registry.register(Shipment.self) }
        #expect(duplicate?.message == "workflow shipment v1 is registered twice")
    }

    @Test func lookupFindsTheNewestVersionUnlessOneIsNamed() throws {
        var registry = WorkflowRegistry()
        try registry.register(Shipment.self)
        try registry.register(ShipmentV2.self)
        #expect(registry.workflow(named: "shipment")?.version == 2)
        #expect(registry.workflow(named: "shipment", version: 1)?.version == 1)
        #expect(registry.workflow(named: "shipment", version: 3) == nil)
        #expect(registry.workflow(named: "nope") == nil)
        #expect(registry.workflows.map { "\($0.name) v\($0.version)" } == ["shipment v1", "shipment v2"])
    }
}

struct ShipmentV2: Workflow {
    static let name = "shipment"
    static let version = 2
    typealias Context = Shipment.Context
    enum State: String, WorkflowState { case assess, done }
    static var definition: Definition<Self> {
        Definition(initial: .assess) {
            Action(.assess, to: .done) { _ in .done }
            Terminal(.done)
        }
    }
}
