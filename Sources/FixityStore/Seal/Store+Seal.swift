import FixityCore
import FixityLedger
import Foundation
import GRDB
import Glibc

/// What `seal` did, for humans and for `--json`.
package struct SealReport: Sendable, Codable {
    package let release: ReleaseID
    package let app: String
    package let tag: String?
    package let files: Int
    package let bytes: UInt64
    package let entries: Int
    /// Blobs this seal added to the store, and their bytes.
    package let newBlobs: Int
    package let newBytes: Int
    /// Files read and hashed (the rest came from the stat cache).
    package let hashedFiles: Int
    /// True when the release already existed under this app.
    package let existed: Bool

    enum CodingKeys: String, CodingKey {
        case release, app, tag, files, bytes, entries
        case newBlobs = "new_blobs", newBytes = "new_bytes", hashedFiles = "hashed_files", existed
    }
}

extension Store {
    /// Seals the tree at `directory` as a release of `app`, optionally tagging it.
    ///
    /// Order (docs/design.md): walk → hash and write blobs to temp → manifest and the new stat
    /// cache to temp → one syncfs → renames → syncfs → one database transaction recording release,
    /// tag and history → the stat cache renamed into place. The shared store lock is held
    /// throughout, so gc cannot remove a blob this seal has found present but not yet referenced.
    /// `exclude` leaves out paths (and everything below them), for `adopt`, which seals a live
    /// tree minus the paths its release allows to change. `validate` sees the manifest once its
    /// objects are durable and readable, before anything is recorded: a throw refuses the seal
    /// (its blobs are then leftovers for gc), so a release that could never deploy never exists.
    package func seal(
        directory: String, app: AppName, tag version: String?, exclude: IgnoreRules = .none,
        progress: WorkProgress? = nil,
        validate: ReleaseValidator? = nil
    ) throws -> SealReport {
        var tagName: TagName?
        if let version {
            do { tagName = try TagName(app: app, version: version) } catch {
                throw StoreError(.badInput, error.description)
            }
        }
        let walker = TreeWalker(rootPath: directory)
        let rootFD = try walker.openRoot()
        defer { Posix.close(rootFD) }
        let lock = try self.lock(.shared, purpose: "seal")
        defer { withExtendedLifetime(lock) {} }

        let clock = try snapshotClock()
        let allWalked = try walker.walk(rootFD: rootFD)
        let walked = exclude.isEmpty ? allWalked : allWalked.filter { !exclude.ignores($0.path) }
        let cacheRoot = Self.canonicalPath(directory)
        let epoch = gcEpoch()
        let cache = StatCache.load(store: self, root: cacheRoot, epoch: epoch)
        var cached = StatCache.Cursor(cache)

        let digests = SlotArray<Digest?>(repeating: nil, count: walked.count)
        var jobs = [Int]()
        var jobBytes = 0
        for (index, entry) in walked.enumerated() where entry.stat.isRegularFile {
            if let digest = cached.digest(for: entry), cache.blobsKnownPresent || hasObject(digest) {
                digests[index] = digest
            } else {
                jobs.append(index)
                jobBytes += Int(entry.stat.size)
            }
        }
        progress?.setTotals(files: jobs.count, bytes: jobBytes)

        let batch = ObjectBatch(store: self)
        let ingester = FileIngester(batch: batch, rootFD: rootFD, rootPath: directory, progress: progress)
        let manifest: Manifest
        var stagedCache: String?
        var cacheDurable = false
        do {
            let jobList = jobs
            try ParallelWork.run(
                count: jobList.count, makeContext: { WorkBuffer(size: FileIngester.bufferSize, worker: $0) }
            ) { job, buffer in
                let index = jobList[job]
                digests[index] = try ingester.ingest(walked[index], buffer: buffer.raw, lane: buffer.worker)
            }
            // The manifest (validated, encoded, hashed) and the new stat cache are built side by
            // side: each is a pass over the whole walk, and a re-seal's time is mostly such passes.
            let built = SlotArray<Manifest?>(repeating: nil, count: 1)
            let cacheBytes = SlotArray<[UInt8]>(repeating: [], count: 1)
            try ParallelWork.run(count: 2, makeContext: { _ in () }) { job, _ in
                if job == 0 {
                    built[0] = try Self.manifest(from: walked, digests: digests, rootPath: directory)
                } else {
                    cacheBytes[0] = StatCache.encode(
                        root: cacheRoot, epoch: epoch, walked: walked, digests: digests, clockNanos: clock)
                }
            }
            manifest = built[0]!
            if !hasObject(manifest.id.digest) && batch.claim(manifest.id.digest) {
                try manifest.bytes.withUnsafeBytes { try batch.stageNew($0, as: manifest.id.digest) }
            }
            // The new stat cache is written now, so the batch's syncfs makes it durable too; it
            // replaces the old one only once the release is recorded.
            stagedCache = stageStatCache(cacheBytes[0])
            cacheDurable = try batch.commit()
        } catch {
            batch.abandon()
            stagedCache.map(discardStatCache)
            throw error
        }
        do {
            try validate?(manifest, self)
        } catch {
            stagedCache.map(discardStatCache)
            throw error
        }

        let existed: Bool
        do {
            existed = try database.storeWrite { db -> Bool in
                let existed = try recordRelease(db, manifest: manifest, app: app)
                if let tagName { try recordTag(db, tagName, release: manifest.id) }
                return existed
            }
        } catch {
            stagedCache.map(discardStatCache)
            throw error
        }
        stagedCache.map { publishStatCache($0, root: cacheRoot, durable: cacheDurable) }
        return SealReport(
            release: manifest.id, app: app.value, tag: tagName?.description, files: manifest.fileCount,
            bytes: manifest.fileBytes, entries: manifest.entries.count,
            newBlobs: ingester.newBlobs.load(ordering: .relaxed), newBytes: ingester.newBytes.load(ordering: .relaxed),
            hashedFiles: jobs.count, existed: existed)
    }

    /// A check of a sealed tree's content (its `fixity.toml`) that the store cannot make itself.
    package typealias ReleaseValidator = (Manifest, Store) throws -> Void

    static func manifest(from walked: [WalkedEntry], digests: SlotArray<Digest?>, rootPath: String) throws -> Manifest {
        var entries = [ManifestEntry]()
        entries.reserveCapacity(walked.count)
        for (index, walkedEntry) in walked.enumerated() {
            let stat = walkedEntry.stat
            if let target = walkedEntry.target {
                entries.append(.symlink(walkedEntry.path, target: target))
            } else if stat.isDirectory {
                entries.append(.directory(walkedEntry.path, mode: stat.permissions))
            } else if let digest = digests[index] {
                entries.append(.file(walkedEntry.path, mode: stat.permissions, size: UInt64(stat.size), digest: digest))
            }
        }
        do {
            return try Manifest(entries: entries)
        } catch {
            throw StoreError(.badInput, "\(rootPath): \(error.description)", path: rootPath)
        }
    }

    /// Inserts the release row and its history entry; false when new, true when it already existed.
    func recordRelease(_ db: Database, manifest: Manifest, app: AppName) throws -> Bool {
        let exists =
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM releases WHERE id = ? AND app = ?",
                arguments: [manifest.id.description, app.value]) ?? false
        if exists { return true }
        try db.execute(
            sql: "INSERT INTO releases (id, app, sealed_at, files, bytes) VALUES (?, ?, ?, ?, ?)",
            arguments: [
                manifest.id.description, app.value, clock.timestamp(), manifest.fileCount,
                Int64(manifest.fileBytes),
            ])
        try record(
            db, action: .seal, subject: manifest.id.description,
            details: [
                "app": app.value, "files": String(manifest.fileCount), "bytes": String(manifest.fileBytes),
            ])
        return false
    }

    /// A time on the store's file system clock (the clock file mtimes use), for racy-entry
    /// protection in the stat cache.
    private func snapshotClock() throws -> Int64 {
        let name = "clock-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let display = "\(path)/tmp/\(name)"
        let fd = try Posix.openat(
            tmpFD, name, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600, display: display)
        defer {
            Posix.close(fd)
            try? Posix.unlinkat(tmpFD, name, display: display)
        }
        return try Posix.fstat(fd, display: display).mtimeNanos
    }

    /// The absolute, symlink-free path of the sealed folder: the stat cache's key.
    static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(decoding: UnsafeRawBufferPointer(start: resolved, count: strlen(resolved)), as: UTF8.self)
    }
}
