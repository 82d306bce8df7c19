import FixityCore
import FixityStore
import Foundation
import Glibc

/// Reading and writing private key files at the CLI's edge (format: docs/signatures.md).
enum KeyFiles {
    /// Creates `path` with mode 0600, refusing to replace anything (a symlink included), and
    /// makes it durable before saying so.
    static func create(_ key: SigningKey, at path: String) throws {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw CLIError("\(path) already exists; a key file is never overwritten") }
            throw StoreError.system("create key file", path: path, code: .badInput)
        }
        defer { Glibc.close(fd) }
        // The create mode is subject to the umask, which can only narrow it; make it exact.
        guard fchmod(fd, 0o600) == 0 else { throw StoreError.system("chmod", path: path) }
        try Posix.writeAll(fd, key.fileBytes(), display: path)
        try Posix.fsync(fd, display: path)
    }

    /// Loads a private key, refusing files others can read (as ssh does) and malformed ones.
    static func load(_ path: String) throws -> SigningKey {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.system("open key file", path: path, code: .badInput) }
        defer { Glibc.close(fd) }
        let st = try Posix.fstat(fd, display: path)
        guard st.isRegularFile else { throw CLIError("key file \(path) is a \(st.typeDescription), not a file") }
        guard st.size <= 4096 else { throw CLIError("key file \(path) is \(st.size) bytes: not a Fixity key file") }
        guard st.permissions & 0o077 == 0 else {
            throw CLIError(
                "key file \(path) has mode \(ManifestEntry.octalMode(st.permissions)): a private key must not be readable by others (chmod 600)"
            )
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4097, alignment: 8)
        defer { buffer.deallocate() }
        let count = try Posix.read(fd, into: buffer, display: path)
        do {
            return try SigningKey(fileBytes: Array(buffer[0..<count]), name: path)
        } catch {
            throw CLIError(error.message)
        }
    }
}
