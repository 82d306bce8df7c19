import Glibc

/// `flock` on a lock file: shared by every operation that adds objects, exclusive for gc, so gc
/// never removes an object that a running seal is about to reference. Released when dropped
/// (or when the process dies: the kernel drops flocks with the descriptor).
package final class FileLock: Sendable {
    package enum Kind: Sendable { case shared, exclusive }

    private let fd: Int32

    /// Waits up to `timeout` seconds, then fails with `.locked` naming the lock file.
    package init(path: String, kind: Kind, timeout: Double, purpose: String) throws {
        fd = try Posix.open(path, flags: O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600)
        let operation = (kind == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB
        let deadline = Self.now() + timeout
        while flock(fd, operation) != 0 {
            let saved = errno
            guard saved == EWOULDBLOCK || saved == EINTR else {
                Glibc.close(fd)
                throw StoreError.system("flock", path: path, errno: saved)
            }
            guard Self.now() < deadline else {
                Glibc.close(fd)
                throw StoreError(
                    .locked, "\(path) is held by another fixity process; \(purpose) gave up after \(Int(timeout)) s",
                    path: path)
            }
            usleep(20_000)
        }
    }

    deinit { Glibc.close(fd) }

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

extension Store {
    /// The store-wide lock (see `FileLock`).
    package func lock(_ kind: FileLock.Kind, timeout: Double = 60, purpose: String) throws -> FileLock {
        try FileLock(path: "\(path)/lock", kind: kind, timeout: timeout, purpose: purpose)
    }
}
