import FixityCore
import FixityStore
import Foundation
import Glibc

/// Reading and writing private key files and host identities at the CLI's edge (formats:
/// docs/signatures.md, docs/agent.md): made with mode 0600, never overwritten, refused when
/// others can read them (as ssh does).
enum KeyFiles {
    static func create(_ key: SigningKey, at path: String) throws {
        _ = try createSecret(key.fileBytes(), at: path, what: "a key file")
    }

    static func load(_ path: String) throws -> SigningKey {
        let bytes = try readSecret(path, what: "key file", limit: 4096)
        do {
            return try SigningKey(fileBytes: bytes, name: path)
        } catch {
            throw CLIError(error.message)
        }
    }

    static func loadIdentity(_ path: String) throws -> HostIdentity {
        let bytes = try readSecret(path, what: "identity", limit: 64 * 1024)
        do {
            return try HostIdentity(fileBytes: bytes, name: path)
        } catch {
            throw CLIError(error.message)
        }
    }

    /// Creates `path` with mode 0600 through its folder's descriptor, refusing to replace
    /// anything (a symlink included), and makes it and its folder entry durable before saying so.
    @discardableResult
    static func createSecret(_ bytes: [UInt8], at path: String, what: String) throws -> CreatedSecret {
        let (folder, folderPath, name) = try DurableFile.openFolder(of: path)
        let created = CreatedSecret(folder: folder, name: name, path: path)
        let fd = Glibc.openat(folder, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw CLIError("\(path) already exists; \(what) is never overwritten") }
            throw StoreError.system("create \(what)", path: path, code: .badInput)
        }
        defer { Glibc.close(fd) }
        created.inode = try Posix.fstat(fd, display: path).inode
        do {
            // The create mode is subject to the umask, which can only narrow it; make it exact.
            guard fchmod(fd, 0o600) == 0 else { throw StoreError.system("chmod", path: path) }
            try Posix.writeAll(fd, bytes, display: path)
            try Posix.fsync(fd, display: path)
            try Posix.fsync(folder, display: folderPath)
        } catch {
            created.remove()
            throw error
        }
        return created
    }

    /// A secret file's bytes: a regular file, at most `limit` bytes, readable by its owner only.
    static func readSecret(_ path: String, what: String, limit: Int) throws -> [UInt8] {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.system("open \(what)", path: path, code: .badInput) }
        defer { Glibc.close(fd) }
        let st = try Posix.fstat(fd, display: path)
        guard st.isRegularFile else { throw CLIError("\(what) \(path) is a \(st.typeDescription), not a file") }
        guard st.size <= limit else { throw CLIError("\(what) \(path) is \(st.size) bytes: not a Fixity \(what)") }
        guard st.permissions & 0o077 == 0 else {
            throw CLIError(
                "\(what) \(path) has mode \(ManifestEntry.octalMode(st.permissions)): a private key must not be readable by others (chmod 600)"
            )
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: limit + 1, alignment: 8)
        defer { buffer.deallocate() }
        let count = try Posix.read(fd, into: buffer, display: path)
        return Array(buffer[0..<count])
    }
}

/// A secret file `createSecret` made, held by its folder's descriptor: `remove` takes it back by
/// name in that folder, and only while the name still holds the file it made — never a path
/// looked up again, never whatever replaced it.
final class CreatedSecret {
    let folder: Int32
    let name: String
    let path: String
    var inode: UInt64?

    init(folder: Int32, name: String, path: String) {
        self.folder = folder
        self.name = name
        self.path = path
    }

    deinit { Glibc.close(folder) }

    func remove() {
        guard let inode, let found = try? Posix.lstatat(folder, name, display: path), found.inode == inode else {
            return
        }
        _ = unlinkat(folder, name, 0)
        _ = Glibc.fsync(folder)
    }
}
