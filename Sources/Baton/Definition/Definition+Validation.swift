extension Definition {
    /// Every problem with this definition, in a stable order; empty when it is valid.
    ///
    /// Checks: a slug name and a positive version; one declaration per state, and one
    /// per `State` case; every target declared; every event named once per wait; positive
    /// timeouts and sleeps; every declared state reachable from ``initial``; a
    /// terminal state reachable.
    public func problems() -> [DefinitionError] {
        let workflow = "workflow \(W.name) v\(W.version)"
        var problems: [DefinitionError] = []
        if W.name.isEmpty || !W.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }) {
            problems.append(DefinitionError(.invalidIdentity, "\(workflow): the name must be non-empty letters, digits, '-', '_' or '.'"))
        }
        if W.version < 1 {
            problems.append(DefinitionError(.invalidIdentity, "\(workflow): the version must be 1 or more"))
        }
        var declared: Set<W.State> = []
        for definition in states where !declared.insert(definition.state).inserted {
            problems.append(DefinitionError(.duplicate, "\(workflow): state \(definition.state.rawValue) is declared more than once"))
        }
        for state in W.State.allCases where !declared.contains(state) {
            problems.append(DefinitionError(.undeclaredState, "\(workflow): state \(state.rawValue) has no declaration (Action, Wait, Sleep, Children, Approval or Terminal)"))
        }
        for definition in states {
            problems += stateProblems(definition, declared: declared, workflow: workflow)
        }
        guard declared.contains(initial) else {
            return problems + [DefinitionError(.unknownTarget, "\(workflow): the initial state \(initial.rawValue) is not declared")]
        }
        let reachable = reachableStates()
        for definition in states where !reachable.contains(definition.state) {
            problems.append(DefinitionError(.unreachableState, "\(workflow): state \(definition.state.rawValue) can never be reached from \(initial.rawValue)"))
        }
        if !states.contains(where: { $0.isTerminal && reachable.contains($0.state) }) {
            problems.append(DefinitionError(.noReachableTerminal, "\(workflow): no terminal state can be reached from \(initial.rawValue), so no run could ever finish"))
        }
        return problems
    }

    /// Throws the first of ``problems()``, if any.
    public func validate() throws {
        if let first = problems().first { throw first }
    }

    private func stateProblems(_ definition: StateDefinition<W>, declared: Set<W.State>, workflow: String) -> [DefinitionError] {
        let state = definition.state.rawValue
        var problems = definition.targets.filter { !declared.contains($0) }.map {
            DefinitionError(.unknownTarget, "\(workflow): state \(state) leads to \($0.rawValue), which is not declared")
        }
        switch definition.kind {
        case .action(let targets, _, _, _) where targets.isEmpty:
            problems.append(DefinitionError(.invalidState, "\(workflow): action \(state) has no target states (Action(.\(state), to: …))"))
        case .wait(let events, let timeout, _):
            if events.isEmpty && timeout == nil {
                problems.append(DefinitionError(.invalidState, "\(workflow): wait \(state) has no event and no timeout, so it would wait forever"))
            }
            var names: Set<String> = []
            for event in events where !names.insert(event.name).inserted {
                problems.append(DefinitionError(.duplicate, "\(workflow): wait \(state) names event \"\(event.name)\" more than once"))
            }
            if let timeout, timeout.duration <= .zero {
                problems.append(DefinitionError(.invalidState, "\(workflow): wait \(state) has a timeout of \(timeout.duration); it must be positive"))
            }
        case .approval(let spec) where spec.policy.isEmpty:
            problems.append(DefinitionError(.invalidState, "\(workflow): approval \(state) names no policy"))
        case .sleep(.after(let duration), _) where duration <= .zero:
            problems.append(DefinitionError(.invalidState, "\(workflow): sleep \(state) lasts \(duration); it must be positive"))
        default:
            break
        }
        return problems
    }

    /// The states a run can enter, following declared transitions from ``initial``.
    func reachableStates() -> Set<W.State> {
        var reached: Set<W.State> = [initial]
        var frontier = [initial]
        while let state = frontier.popLast() {
            for target in definition(of: state)?.targets ?? [] where reached.insert(target).inserted {
                frontier.append(target)
            }
        }
        return reached
    }
}
