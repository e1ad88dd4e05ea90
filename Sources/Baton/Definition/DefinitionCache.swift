import Synchronization

extension Workflow {
    /// ``Workflow/definition``, built once per process: the runtime reads it at every
    /// transition, and a computed `definition` would run its builder each time.
    static var builtDefinition: Definition<Self> { DefinitionCache.shared.definition(of: Self.self) }
}

/// The definitions built so far, by workflow type.
private final class DefinitionCache: Sendable {
    static let shared = DefinitionCache()
    private let definitions = Mutex<[ObjectIdentifier: any Sendable]>([:])

    func definition<W: Workflow>(of workflow: W.Type) -> Definition<W> {
        let key = ObjectIdentifier(W.self)
        if let built = definitions.withLock({ $0[key] }) as? Definition<W> { return built }
        let built = W.definition
        definitions.withLock { $0[key] = built }
        return built
    }
}
