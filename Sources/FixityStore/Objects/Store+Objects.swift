import FixityCore
import Glibc

extension Store {
    /// `<2 hex>/<62 hex>`, relative to `objects/sha256`.
    static func objectName(_ digest: Digest) -> String {
        let hex = digest.hex
        return "\(hex.prefix(2))/\(hex.dropFirst(2))"
    }

    package func objectPath(_ digest: Digest) -> String {
        "\(path)/objects/sha256/\(Self.objectName(digest))"
    }

    package func hasObject(_ digest: Digest) -> Bool {
        var st = stat()
        return Glibc.fstatat(objectsFD, Self.objectName(digest), &st, AT_SYMLINK_NOFOLLOW) == 0
            && FileStat(st).isRegularFile
    }

    /// Opens an object for reading; a missing object is an integrity failure of the store.
    package func openObject(_ digest: Digest) throws -> Int32 {
        do {
            return try Posix.openat(
                objectsFD, Self.objectName(digest), flags: O_RDONLY | O_NOFOLLOW, display: objectPath(digest))
        } catch let error as StoreError where error.errno == ENOENT {
            throw StoreError(.integrity, "object \(digest) is missing from the store", path: objectPath(digest))
        }
    }

    /// Streams an object's bytes to `sink` in chunks while hashing them, and throws an integrity
    /// error naming both digests when the bytes do not match the name. The sink has seen the
    /// bytes by then: callers write into staging space they discard on error.
    package func streamObject(
        _ digest: Digest, buffer: UnsafeMutableRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> UInt64 {
        let fd = try openObject(digest)
        defer { Posix.close(fd) }
        var hasher = ContentHasher()
        var total: UInt64 = 0
        while true {
            let n = try Posix.read(fd, into: buffer, display: objectPath(digest))
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            hasher.update(chunk)
            try sink(chunk)
            total += UInt64(n)
        }
        let actual = hasher.finalize()
        guard actual == digest else {
            throw StoreError(
                .integrity, "object \(digest.short) is corrupt: its bytes hash to \(actual.short)",
                path: objectPath(digest))
        }
        return total
    }

    /// Reads a whole object, verified. For manifests and other small objects.
    package func readObject(_ digest: Digest) throws -> [UInt8] {
        var bytes = [UInt8]()
        let buffer = IOBuffer.allocate()
        defer { buffer.deallocate() }
        _ = try streamObject(digest, buffer: buffer) { bytes.append(contentsOf: $0) }
        return bytes
    }

}

extension Store {
    /// Re-hashes an object; throws an integrity error when it does not match its name.
    package func verifyObject(_ digest: Digest) throws {
        let buffer = IOBuffer.allocate()
        defer { buffer.deallocate() }
        _ = try streamObject(digest, buffer: buffer) { _ in }
    }

    /// Streams an object to an open descriptor (stdout for `cat`), verifying as it goes.
    package func copyObject(_ digest: Digest, toFileDescriptor fd: Int32) throws {
        let buffer = IOBuffer.allocate()
        defer { buffer.deallocate() }
        _ = try streamObject(digest, buffer: buffer) { try Posix.writeAll(fd, $0, display: "output") }
    }
}
