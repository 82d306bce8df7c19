import Glibc

/// A file replaced all or nothing (a proof bundle, a metrics textfile): the bytes go to a
/// temporary name beside `path`, are made durable, and are renamed over it; the folder is then
/// synced, so a crash leaves the old file or the new one. A symlink at `path` is replaced, never
/// followed (DESIGN.md invariant 7).
package enum DurableFile {
    package static func replace(_ path: String, with bytes: [UInt8], mode: mode_t = 0o644) throws {
        let (dirfd, folder, name) = try openFolder(of: path)
        defer { Glibc.close(dirfd) }
        try replace(name, in: dirfd, folder: folder, with: bytes, mode: mode)
    }

    /// The same, beneath a folder already open (a root's `.fixity`): nothing on the way is a path.
    package static func replace(
        _ name: String, in dirfd: Int32, folder: String, with bytes: [UInt8], mode: mode_t = 0o644
    ) throws {
        let path = "\(folder)/\(name)"
        if let existing = try Posix.lstatat(dirfd, name, display: path), existing.isDirectory {
            throw StoreError(.badInput, "\(path) is a folder")
        }
        let temporary = ".\(name).fixity-\(getpid())"
        let fd = try Posix.openat(
            dirfd, temporary, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: mode, display: path)
        do {
            defer { Glibc.close(fd) }
            try Posix.writeAll(fd, bytes, display: path)
            try Posix.fsync(fd, display: path)
            try Posix.renameat(dirfd, temporary, dirfd, name, display: path)
        } catch {
            _ = unlinkat(dirfd, temporary, 0)
            throw error
        }
        try Posix.fsync(dirfd, display: folder)
    }

    /// The folder a file the operator named goes in, opened (its descriptor, its path, the file's
    /// name): every write and removal then goes through that descriptor by name, `O_NOFOLLOW`.
    /// The folder is the operator's choice (a symlinked /var/lib is theirs to make), so its path
    /// is followed; the file's own name never is.
    package static func openFolder(of path: String) throws -> (fd: Int32, folder: String, name: String) {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]).isEmpty ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty, name != ".", name != ".." else { throw StoreError(.badInput, "\(path): not a file name") }
        let fd = Glibc.open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.system("open folder", path: folder, code: .badInput) }
        return (fd, folder, name)
    }
}
