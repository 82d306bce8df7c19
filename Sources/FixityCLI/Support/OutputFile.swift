import FixityStore
import Glibc

/// A file the CLI writes for the user (a proof bundle): all or nothing. The bytes go to a
/// temporary name beside `path`, are made durable, and are renamed over it; the folder is then
/// synced, so a crash leaves the old file or the new one. A symlink at `path` is replaced, never
/// followed (DESIGN.md invariant 7).
enum OutputFile {
    static func write(_ bytes: [UInt8], to path: String) throws {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]).isEmpty ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty, name != ".", name != ".." else { throw CLIError("--out \(path): not a file name") }
        let dirfd = Glibc.open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { throw StoreError.system("open folder", path: folder, code: .badInput) }
        defer { Glibc.close(dirfd) }
        if let existing = try Posix.lstatat(dirfd, name, display: path), existing.isDirectory {
            throw CLIError("--out \(path) is a folder")
        }
        let temporary = ".\(name).fixity-\(getpid())"
        let fd = try Posix.openat(
            dirfd, temporary, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: 0o644, display: path)
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
}
