import Testing

extension Tag {
    /// Needs the PostgreSQL server that ops/test starts.
    @Tag static var database: Self
}
