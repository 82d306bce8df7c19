/// The git checkout a sealed folder is inside: its top, commit, remote, whether it has
/// uncommitted changes, and the folder's path within it — the source a provenance statement names.
package struct GitCheckout: Sendable {
    package let top: String
    package let commit: String
    package let remote: String?
    package let dirty: Bool
    package let relativePath: String

    package init(top: String, commit: String, remote: String?, dirty: Bool, relativePath: String) {
        self.top = top
        self.commit = commit
        self.remote = remote
        self.dirty = dirty
        self.relativePath = relativePath
    }
}
