import Baton

/// The workflows the `baton` binary ships with.
public enum Examples {
    /// A registry holding every example workflow.
    public static func registry() throws -> WorkflowRegistry {
        var registry = WorkflowRegistry()
        try registry.register(CustomerNotice.self)
        try registry.register(OrderDelay.self)
        try registry.register(TenSteps.self)
        return registry
    }
}
