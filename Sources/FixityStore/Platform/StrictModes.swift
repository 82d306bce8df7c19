import Glibc

/// What ssh's StrictModes checks, for the folders Fixity trusts: a deploy root, its `.fixity`
/// and `deployments`, and the store. Someone else who owns one of them, or anyone in a group
/// that may write to it, can swap what Fixity reads there (a planted deployment, a forged
/// database) between two commands; so such a folder is refused, naming who could write it,
/// unless the operator says otherwise in so many words (`--allow-shared-root`).
package enum StrictModes {
    /// Refuses the folder open at `fd` when it is owned by a user other than this one (or root),
    /// or writable by its group or by others.
    package static func requireTrusted(_ fd: Int32, what: String, display: String, override: String?) throws {
        var st = stat()
        guard Glibc.fstat(fd, &st) == 0 else { throw StoreError.system("stat", path: display) }
        let me = geteuid()
        let hint = override.map { "; give \($0) to use it anyway" } ?? ""
        if st.st_uid != me && st.st_uid != 0 {
            throw StoreError(
                .badInput,
                "\(what) \(display) is owned by uid \(st.st_uid), not by this user (uid \(me)) or root: its owner could change what Fixity trusts there\(hint)",
                path: display)
        }
        let mode = st.st_mode & 0o7777
        if mode & 0o022 != 0 {
            let who = mode & 0o002 != 0 ? "every user" : "group \(st.st_gid)"
            throw StoreError(
                .badInput,
                "\(what) \(display) is writable by \(who) (mode \(String(format: "%04o", mode))): they could change what Fixity trusts there; chmod go-w it\(hint)",
                path: display)
        }
    }
}
