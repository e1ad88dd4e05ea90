import Testing

extension Tag {
    /// Needs the PostgreSQL server that ops/test starts.
    @Tag static var database: Self
    /// Starts real `baton` processes (and, for the embedded database, a PostgreSQL server).
    @Tag static var process: Self
}
