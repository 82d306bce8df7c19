import CFixitySys
import FixityCore
import Dispatch
import Glibc
import Synchronization

/// How file bytes reach a materialized tree.
package enum LinkMode: String, Sendable, CaseIterable {
    /// Reflink where the file system can (XFS, Btrfs), copy otherwise.
    case auto
    /// Reflink (FICLONE) or fail: the tree shares extents with the store, copy-on-write.
    case reflink
    /// Copy every byte.
    case copy
    /// Hard-link a verified per-mode copy kept in the store (`links/`): no data written per
    /// deploy, but live files share inodes with the store's link source (see Store+LinkFarm).
    case hardlink
}

/// Writes a manifest's tree into an empty folder, verifying every byte against its digest as it
/// is copied (copy and hash in one pass). Never follows a symlink: every create is relative to a
/// directory descriptor with `O_NOFOLLOW`/`O_EXCL`, and the manifest has already guaranteed that
/// no path passes through a symlink. Directory modes are applied last, deepest first, so a 0555
/// folder does not block writing its own children. Used by `export` and, later, by deploy.
package final class TreeMaterializer: Sendable {
    package let store: Store
    package let manifest: Manifest
    package let progress: WorkProgress?
    package let linkMode: LinkMode
    /// Set the Linux immutable attribute on every file and folder written.
    package let immutable: Bool
    /// Hardlink mode: trust link sources by their verified stamp, or re-hash every one.
    package let sourceVerification: SourceVerification
    /// Hardlink mode: sources trusted by stamp, and sources hashed, in the last write.
    private let sourcesTrusted = Atomic<Int>(0)
    private let verifiedSources = Mutex<[VerifiedLinkSource]>([])
    private let sourcesHashed = Atomic<Int>(0)
    /// Set when reflinks were not available and `auto` fell back to copying.
    private let reflinkUnavailable = Atomic<Bool>(false)
    /// Set when the immutable attribute could not be set (no CAP_LINUX_IMMUTABLE, tmpfs …).
    private let immutableFailed = Atomic<Bool>(false)

    package init(
        store: Store, manifest: Manifest, linkMode: LinkMode = .copy, immutable: Bool = false,
        progress: WorkProgress? = nil,
        sourceVerification: SourceVerification = .stamped
    ) {
        self.store = store
        self.manifest = manifest
        self.linkMode = linkMode
        self.sourceVerification = sourceVerification
        self.immutable = immutable
        self.progress = progress
    }

    /// After `write`: whether `auto` had to copy, and whether `immutable` could not be applied.
    package var fellBackToCopy: Bool { reflinkUnavailable.load(ordering: .relaxed) }
    package var immutableUnavailable: Bool { immutableFailed.load(ordering: .relaxed) }
    /// After a hardlink `write`: (link sources trusted by their stamp, link sources hashed).
    package var linkSources: (trusted: Int, hashed: Int) {
        (sourcesTrusted.load(ordering: .relaxed), sourcesHashed.load(ordering: .relaxed))
    }

    /// Materializes into `dirfd` (an empty folder shown as `display`) and makes it durable.
    package func write(into dirfd: Int32, display: String) throws {
        let entries = manifest.entries
        let fileIndices = entries.indices.filter { entries[$0].digest != nil }
        let files = fileIndices.map { entries[$0] }
        progress?.setTotals(files: files.count, bytes: Int(files.reduce(0) { $0 + $1.size }))
        if linkMode == .hardlink {
            try linkFiles(files, entryIndices: fileIndices, into: dirfd, display: display)
        } else {
            try createFoldersAndSymlinks(into: dirfd, display: display)
            try ParallelWork.run(count: files.count, makeContext: { WorkBuffer(worker: $0) }) {
                index, buffer in
                try self.writeFile(files[index], dirfd: dirfd, display: display, buffer: buffer.raw)
            }
        }
        for entry in entries.reversed() where entry.isDirectory {
            if Glibc.fchmodat(dirfd, entry.path, entry.mode, 0) != 0 {
                throw StoreError.system("chmod", path: "\(display)/\(entry.path)")
            }
            if immutable { try setImmutable(dirfd, entry.path, display: display) }
        }
        try Posix.syncfs(dirfd, display: display)
    }

    /// Folders and symlinks, in canonical order (parents before children). Folders stay 0700
    /// until their contents are written.
    private func createFoldersAndSymlinks(into dirfd: Int32, display: String) throws {
        for entry in manifest.entries {
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
    }

    /// Hardlink mode, pipelined: the workers verify (or create) each distinct link source while
    /// one thread creates the folders and then starts linking every file whose source is already
    /// verified; once all sources are, the workers join the linking. mkdir on a file system full
    /// of just-freed inodes is slow and hashing is the other half of the work, so neither core
    /// waits for the other. A file is never linked before its source is final.
    private func linkFiles(_ files: [ManifestEntry], entryIndices: [Int], into dirfd: Int32, display: String) throws {
        // gc sweeps link sources no deployment links yet: keep it out until the links exist.
        let storeLock = try store.lock(.shared, purpose: "deploy --link hardlink")
        defer { withExtendedLifetime(storeLock) {} }
        var sourceIndex = [LinkSourceKey: Int]()
        var keys = [LinkSourceKey]()
        var sources = [ManifestEntry]()
        var firstEntry = [Int]()
        var sourceOf = [Int]()
        sourceOf.reserveCapacity(files.count)
        for (number, file) in files.enumerated() {
            let key = LinkSourceKey(digest: file.digest!, mode: file.mode)
            if let known = sourceIndex[key] {
                sourceOf.append(known)
            } else {
                sourceIndex[key] = sources.count
                sourceOf.append(sources.count)
                sources.append(file)
                keys.append(key)
                firstEntry.append(entryIndices[number])
            }
        }
        // Each source's name below `links/`, spelled once, not once per file linked to it.
        let names = keys.map(\.name)
        let sourceKeys = keys
        let stamps = store.loadLinkStamps()
        let prepared = Mutex([FileStat?](repeating: nil, count: sources.count))
        let verified = Mutex([Bool](repeating: false, count: sources.count))
        let nextLink = Atomic<Int>(0)
        let deferred = Mutex([Int]())
        let failure = Mutex<(any Error)?>(nil)
        let foldersCreated = DispatchSemaphore(value: 0)
        let links = sourceOf
        let distinct = sources

        /// Claims files in order and links those whose source is verified; the others wait.
        @Sendable func linkLoop() throws {
            var later = [Int]()
            defer { if !later.isEmpty { deferred.withLock { $0 += later } } }
            while failure.withLock({ $0 == nil }) {
                let index = nextLink.add(1, ordering: .relaxed).oldValue
                guard index < files.count else { return }
                guard verified.withLock({ $0[links[index]] }) else {
                    later.append(index)
                    continue
                }
                try linkOne(index)
            }
        }
        @Sendable func linkOne(_ index: Int) throws {
            let entry = files[index]
            try self.store.link(source: names[links[index]], to: dirfd, entry.path, display: "\(display)/\(entry.path)")
            self.progress?.add(files: 1, bytes: 0)
        }
        @Sendable func record(_ error: any Error) { failure.withLock { if $0 == nil { $0 = error } } }

        // Folders first (every link needs its folder), then links as their sources are verified.
        let linker = BackgroundJob<Void> {
            do {
                try self.createFoldersAndSymlinks(into: dirfd, display: display)
                foldersCreated.signal()
                try linkLoop()
            } catch {
                record(error)
                foldersCreated.signal()
            }
        }
        do {
            try ParallelWork.run(count: distinct.count, makeContext: { WorkBuffer(worker: $0) }) {
                index, buffer in
                let entry = distinct[index]
                let source = try self.store.prepareLinkSource(
                    entry.digest!, size: entry.size, mode: entry.mode, name: names[index], buffer: buffer.raw,
                    stamp: stamps[sourceKeys[index]], verification: self.sourceVerification)
                if source.trustedByStamp {
                    self.sourcesTrusted.add(1, ordering: .relaxed)
                } else {
                    self.sourcesHashed.add(1, ordering: .relaxed)
                }
                prepared.withLock { $0[index] = source.verified }
                verified.withLock { $0[index] = true }
                self.progress?.add(bytes: Int(entry.size))
            }
            foldersCreated.wait()
            if failure.withLock({ $0 == nil }) {
                try ParallelWork.run(count: ParallelWork.defaultWorkers, makeContext: { _ in () }) { _, _ in
                    try linkLoop()
                }
            }
        } catch {
            record(error)
        }
        try linker.wait()  // its errors are in `failure`
        if let error = failure.withLock({ $0 }) { throw error }
        // Claimed before their source was verified; every source is now.
        for index in deferred.withLock({ $0 }).sorted() { try linkOne(index) }
        // Linking moved each source's ctime: the caller re-stamps them from its stats of the new
        // tree (the same inodes), with `restampLinkSources`.
        let verifiedStats = prepared.withLock { $0 }
        var verifiedList = [VerifiedLinkSource]()
        verifiedList.reserveCapacity(keys.count)
        for (index, key) in keys.enumerated() {
            if let stat = verifiedStats[index] {
                verifiedList.append(VerifiedLinkSource(key: key, verified: stat, entryIndex: firstEntry[index]))
            }
        }
        verifiedSources.withLock { $0 = verifiedList }
    }

    /// A link source as a hardlink `write` left it: its stat when its bytes were known good, and
    /// the index in the manifest's entries of one file linked to it.
    package struct VerifiedLinkSource: Sendable {
        package let key: LinkSourceKey
        package let verified: FileStat
        package let entryIndex: Int
    }

    /// Hardlink mode, after `write`: every link source used, with its verified stat.
    package var verifiedLinkSources: [VerifiedLinkSource] { verifiedSources.withLock { $0 } }

    /// A corrupt object met while writing names the path of the tree it was for (the deploy adds
    /// the release): "object 5891b5… is corrupt" alone sends the operator hunting.
    static func naming<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StoreError where error.code == .integrity {
            throw StoreError(
                .integrity, "\(path): \(error.message); nothing was switched (fixity fsck lists every corrupt object)",
                path: error.path)
        }
    }

    private func writeFile(_ entry: ManifestEntry, dirfd: Int32, display: String, buffer: UnsafeMutableRawBufferPointer)
        throws
    {
        guard let digest = entry.digest else { return }
        let path = "\(display)/\(entry.path)"
        let fd = try Posix.openat(
            dirfd, entry.path, flags: O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600, display: path)
        defer { Posix.close(fd) }
        let written: UInt64
        if linkMode != .copy, !reflinkUnavailable.load(ordering: .relaxed), try clone(digest, into: fd, path: path) {
            // Verify what the new file holds, not what the store holds: read the clone back.
            written = try verifyContent(of: fd, digest: digest, path: path, buffer: buffer)
        } else {
            var flushed: Int64 = 0
            var total: Int64 = 0
            written = try Self.naming(entry.path) {
                try store.streamObject(digest, buffer: buffer) { chunk in
                    try Posix.writeAll(fd, chunk, display: path)
                    total += Int64(chunk.count)
                    // Start writeback as we go (see FileIngester): the final syncfs waits only for the tail.
                    if total - flushed >= 8 << 20 {
                        Posix.startWriteback(fd, offset: flushed, length: total - flushed)
                        flushed = total
                    }
                    progress?.add(bytes: chunk.count)
                }
            }
            Posix.startWriteback(fd, offset: flushed, length: 0)
        }
        guard written == entry.size else {
            throw StoreError(
                .integrity,
                "object \(digest.short) has \(written) bytes, manifest says \(entry.size) for \(entry.path)",
                path: store.objectPath(digest))
        }
        // fchmod, not the create mode: the umask must not change what the manifest says.
        if Glibc.fchmod(fd, entry.mode) != 0 { throw StoreError.system("chmod", path: path) }
        if immutable, fixity_set_immutable(fd, 1) != 0 { immutableFailed.store(true, ordering: .relaxed) }
        progress?.add(files: 1, bytes: 0)
    }

    /// FICLONE from the object; false when the file system cannot (then `auto` copies from now on).
    private func clone(_ digest: Digest, into fd: Int32, path: String) throws -> Bool {
        let source = try store.openObject(digest)
        defer { Posix.close(source) }
        if fixity_ficlone(fd, source) == 0 { return true }
        let saved = errno
        guard linkMode == .auto else {
            throw StoreError(
                .io,
                "--link reflink: cannot clone into \(path): \(String(cString: strerror(saved))) (this file system has no reflinks; use --link auto or copy)",
                path: path, errno: saved)
        }
        reflinkUnavailable.store(true, ordering: .relaxed)
        return false
    }

    private func verifyContent(of fd: Int32, digest: Digest, path: String, buffer: UnsafeMutableRawBufferPointer) throws
        -> UInt64
    {
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw StoreError.system("seek", path: path) }
        let (actual, total) = try Posix.hashToEnd(fd, buffer: buffer, display: path) { progress?.add(bytes: $0.count) }
        guard actual == digest else {
            throw StoreError(
                .integrity,
                "\(path) reads back as \(actual.short), expected \(digest.short) (corrupt object \(digest.short) in the store?)",
                path: path)
        }
        return total
    }

    private func setImmutable(_ dirfd: Int32, _ name: String, display: String) throws {
        guard
            let fd = try? Posix.openat(
                dirfd, name, flags: O_RDONLY | O_NOFOLLOW | O_DIRECTORY, display: "\(display)/\(name)")
        else { return }
        defer { Posix.close(fd) }
        if fixity_set_immutable(fd, 1) != 0 { immutableFailed.store(true, ordering: .relaxed) }
    }
}
