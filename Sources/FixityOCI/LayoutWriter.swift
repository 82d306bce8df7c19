import FixityCore
import FixityStore
import Glibc

/// Writes an OCI image layout (image-spec 1.1 `image-layout.md`) all or nothing: everything goes
/// into a staging folder beside the target, each blob durable and named by its digest, and the
/// folder is renamed into place only when complete. A crash leaves no half layout at `path`.
package final class LayoutWriter {
    let path: String
    let staging: String
    private let blobsFD: Int32
    private var committed = false

    package init(path: String) throws {
        self.path = path
        var st = stat()
        if lstat(path, &st) == 0 {
            throw StoreError(.badInput, "--out \(path) already exists; give a new folder", path: path)
        }
        // The parent must exist and be a folder: said about it, not about a temp name inside it.
        let parent = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        if !parent.isEmpty, lstat(parent, &st) != 0 || (st.st_mode & S_IFMT) != S_IFDIR {
            throw StoreError(
                .badInput,
                "--out \(path): its parent folder \(parent) does not exist (or is not a folder); create it first",
                path: parent)
        }
        staging = "\(path).fixity-incoming-\(getpid())"
        for folder in [staging, "\(staging)/blobs", "\(staging)/blobs/sha256"] {
            guard mkdir(folder, 0o755) == 0 else { throw StoreError.system("create", path: folder, code: .badInput) }
        }
        blobsFD = try Posix.open("\(staging)/blobs/sha256", flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    }

    deinit {
        Posix.close(blobsFD)
        if !committed { try? Posix.removeTree(AT_FDCWD, staging, display: staging) }
    }

    /// A small blob from memory.
    package func addBlob(
        _ bytes: [UInt8], mediaType: String, annotations: [String: String]? = nil, platform: OCI.Platform? = nil
    ) throws -> OCI.Descriptor {
        let digest = Digest.of(bytes)
        let writer = try blobWriter()
        try writer.write(bytes)
        try writer.finish(as: digest)
        return OCI.Descriptor(
            mediaType: mediaType, digest: digest, size: bytes.count, annotations: annotations, platform: platform)
    }

    /// A streamed blob: write to it, then `finish(as:)` once its digest is known.
    package func blobWriter() throws -> BlobWriter {
        try BlobWriter(folderFD: blobsFD, display: "\(staging)/blobs/sha256")
    }

    package final class BlobWriter {
        let fd: Int32
        let folderFD: Int32
        let name = ".blob-\(UInt64.random(in: 0...UInt64.max))"
        let display: String
        private(set) var size = 0
        private var hasher = ContentHasher()
        private var done = false

        init(folderFD: Int32, display: String) throws {
            self.folderFD = folderFD
            self.display = display
            fd = try Posix.openat(
                folderFD, name, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: 0o644,
                display: "\(display)/\(name)")
        }

        deinit {
            Posix.close(fd)
            if !done { _ = unlinkat(folderFD, name, 0) }
        }

        package func write(_ bytes: UnsafeRawBufferPointer) throws {
            hasher.update(bytes)
            try Posix.writeAll(fd, bytes, display: display)
            size += bytes.count
        }

        package func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

        /// The digest of what was written.
        package var digest: Digest { hasher.finalize() }

        /// Makes the blob durable under its digest; `expected` must match what was written.
        package func finish(as expected: Digest) throws {
            let actual = hasher.finalize()
            guard actual == expected else {
                throw StoreError(.integrity, "blob written as \(expected.short) hashes to \(actual.short)")
            }
            try Posix.fsync(fd, display: display)
            try Posix.renameat(folderFD, name, folderFD, expected.hex, display: "\(display)/\(expected.hex)")
            done = true
        }
    }

    /// Writes `index.json` and `oci-layout`, makes the folders durable and renames the layout into place.
    package func commit(index: OCI.Index) throws {
        for (name, bytes) in [
            ("oci-layout", Array("{\"imageLayoutVersion\":\"\(OCI.MediaType.layoutVersion)\"}".utf8)),
            ("index.json", OCI.encode(index)),
        ] {
            let fd = try Posix.open(
                "\(staging)/\(name)", flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: 0o644)
            defer { Posix.close(fd) }
            try Posix.writeAll(fd, bytes, display: "\(staging)/\(name)")
            try Posix.fsync(fd, display: "\(staging)/\(name)")
        }
        try Posix.fsync(blobsFD, display: "\(staging)/blobs/sha256")
        for folder in ["\(staging)/blobs", staging] {
            let fd = try Posix.open(folder, flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            defer { Posix.close(fd) }
            try Posix.fsync(fd, display: folder)
        }
        // rename(2) refuses to replace a non-empty folder and never follows a symlink at `path`.
        guard rename(staging, path) == 0 else {
            throw StoreError.system("rename layout into place", path: path, code: .badInput)
        }
        committed = true
        let parent = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let fd = try Posix.open(parent.isEmpty ? "/" : parent, flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { Posix.close(fd) }
        try Posix.fsync(fd, display: parent)
    }
}
