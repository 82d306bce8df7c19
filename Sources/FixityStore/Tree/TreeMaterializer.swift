import FixityCore
import Glibc

/// Writes a manifest's tree into an empty folder, verifying every byte against its digest as it
/// is copied (copy and hash in one pass). Never follows a symlink: every create is relative to a
/// directory descriptor with `O_NOFOLLOW`/`O_EXCL`, and the manifest has already guaranteed that
/// no path passes through a symlink. Directory modes are applied last, deepest first, so a 0555
/// folder does not block writing its own children. Used by `export` and, later, by deploy.
public struct TreeMaterializer {
    public let store: Store
    public let manifest: Manifest
    public let progress: WorkProgress?

    public init(store: Store, manifest: Manifest, progress: WorkProgress? = nil) {
        self.store = store
        self.manifest = manifest
        self.progress = progress
    }

    /// Materializes into `dirfd` (an empty folder shown as `display`) and makes it durable.
    public func write(into dirfd: Int32, display: String) throws {
        let entries = manifest.entries
        // Folders and symlinks first, in canonical order (parents before children).
        for entry in entries {
            let path = "\(display)/\(entry.path)"
            switch entry.kind {
            case .directory:
                if Glibc.mkdirat(dirfd, entry.path, 0o700) != 0 { throw StoreError.system("mkdir", path: path) }
            case .symlink(let target):
                if Glibc.symlinkat(target, dirfd, entry.path) != 0 { throw StoreError.system("symlink", path: path) }
            case .file:
                continue
            }
        }
        let files = entries.filter { $0.digest != nil }
        progress?.setTotals(files: files.count, bytes: Int(files.reduce(0) { $0 + $1.size }))
        let store = self.store
        let progress = self.progress
        try ParallelWork.run(count: files.count, makeContext: { WorkBuffer(size: 1 << 20, worker: $0) }) { index, buffer in
            try Self.writeFile(files[index], store: store, dirfd: dirfd, display: display, buffer: buffer.raw, progress: progress)
        }
        for entry in entries.reversed() where entry.isDirectory {
            if Glibc.fchmodat(dirfd, entry.path, entry.mode, 0) != 0 {
                throw StoreError.system("chmod", path: "\(display)/\(entry.path)")
            }
        }
        try Posix.syncfs(dirfd, display: display)
    }

    private static func writeFile(
        _ entry: ManifestEntry, store: Store, dirfd: Int32, display: String, buffer: UnsafeMutableRawBufferPointer, progress: WorkProgress?
    ) throws {
        guard let digest = entry.digest else { return }
        let path = "\(display)/\(entry.path)"
        let fd = try Posix.openat(dirfd, entry.path, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600, display: path)
        defer { Posix.close(fd) }
        let written = try store.streamObject(digest, buffer: buffer) { chunk in
            try Posix.writeAll(fd, chunk, display: path)
            progress?.add(bytes: chunk.count)
        }
        guard written == entry.size else {
            throw StoreError(.integrity, "object \(digest.short) has \(written) bytes, manifest says \(entry.size) for \(entry.path)", path: store.objectPath(digest))
        }
        // fchmod, not the create mode: the umask must not change what the manifest says.
        if Glibc.fchmod(fd, entry.mode) != 0 { throw StoreError.system("chmod", path: path) }
        progress?.add(files: 1, bytes: 0)
    }
}
