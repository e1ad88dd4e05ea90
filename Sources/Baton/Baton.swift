/// Facts about this build of Baton.
public enum Baton {
    /// The release, following semantic versioning.
    public static let version = "0.1.0"
}
