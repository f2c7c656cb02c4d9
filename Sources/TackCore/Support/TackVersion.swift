/// The release of this binary, reported in the node registry and `status`.
public enum TackVersion {
    /// Semantic version of the release.
    public static let current = "0.1.0"
}
