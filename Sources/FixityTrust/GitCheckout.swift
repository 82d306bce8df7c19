/// The git checkout a sealed folder is inside: its top, commit, remote, whether it has
/// uncommitted changes, and the folder's path within it — the source a provenance statement names.
public struct GitCheckout: Sendable {
    public let top: String
    public let commit: String
    public let remote: String?
    public let dirty: Bool
    public let relativePath: String

    public init(top: String, commit: String, remote: String?, dirty: Bool, relativePath: String) {
        self.top = top
        self.commit = commit
        self.remote = remote
        self.dirty = dirty
        self.relativePath = relativePath
    }
}
