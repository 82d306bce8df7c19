import CFixitySys
import FixityCore
import FixityStore
import Glibc

/// Hashing one live file, leniently: the tree under verification may be hostile or changing.
enum LiveHash: Sendable {
    case digest(Digest)
    case unreadable
    case changing

    static func compute(
        _ treeFD: Int32, _ path: String, walked: FileStat, buffer: UnsafeMutableRawBufferPointer?,
        progress: WorkProgress?
    ) -> LiveHash {
        let fd = Glibc.openat(treeFD, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { return errno == EACCES || errno == EPERM ? .unreadable : .changing }
        defer { Glibc.close(fd) }
        guard let before = try? Posix.fstat(fd, display: path), before.isRegularFile, before.inode == walked.inode
        else { return .changing }
        return hashOpened(fd, before: before, path: path, buffer: buffer, progress: progress)
    }

    /// Opens and hashes a file that no walk has seen yet; nil when it is not a regular file (or
    /// cannot be opened). The stat returned is the one taken through the open descriptor.
    static func hashUnwalked(
        _ treeFD: Int32, _ path: String, buffer: UnsafeMutableRawBufferPointer, progress: WorkProgress? = nil
    ) -> (stat: FileStat, hash: LiveHash)? {
        // Beneath the tree with no symlink on the way: a folder swapped for a link to elsewhere
        // must not make verify read (and wait on) a file outside the tree.
        let fd = fixity_open_file_beneath(treeFD, path, O_RDONLY | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        guard let before = try? Posix.fstat(fd, display: path), before.isRegularFile else { return nil }
        return (before, hashOpened(fd, before: before, path: path, buffer: buffer, progress: progress))
    }

    /// Files from this size up are hashed from a mapping (no copy into a buffer).
    static let mappedFrom: Int64 = 1 << 20

    private static func hashOpened(
        _ fd: Int32, before: FileStat, path: String, buffer: UnsafeMutableRawBufferPointer?, progress: WorkProgress?
    ) -> LiveHash {
        if before.size >= Self.mappedFrom,
            let digest = Posix.mappedDigest(fd, size: Int(before.size), onChunk: { progress?.add(bytes: $0) })
        {
            progress?.add(files: 1, bytes: 0)
            guard let after = try? Posix.fstat(fd, display: path), after.sameContentSignature(as: before) else {
                return .changing
            }
            return .digest(digest)
        }
        let owned = buffer == nil ? IOBuffer.allocate() : nil
        defer { owned?.deallocate() }
        let chunk = buffer ?? owned!
        var hasher = ContentHasher()
        while true {
            let n = Glibc.read(fd, chunk.baseAddress!, chunk.count)
            if n < 0 {
                if errno == EINTR { continue }
                return errno == EACCES ? .unreadable : .changing
            }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            progress?.add(bytes: n)
        }
        progress?.add(files: 1, bytes: 0)
        guard let after = try? Posix.fstat(fd, display: path), after.sameContentSignature(as: before) else {
            return .changing
        }
        return .digest(hasher.finalize())
    }
}
