import FixityCore
import FixityLedger
import Glibc

/// A release built from entries that arrive as a stream (an image layer) rather than a folder:
/// file contents go straight into the store's temp space by the object protocol (invariant 2),
/// nothing is written anywhere else, and the release is recorded only by `finish`, after the
/// manifest validates and every object is durable. `abandon` (or deinit without finish) leaves
/// no trace beyond temp files gc removes.
package final class TreeImport {
    let store: Store
    private let batch: ObjectBatch
    private let lock: FileLock
    private var finished = false

    package init(store: Store) throws {
        self.store = store
        // Shared, as a seal: gc cannot remove an object this import found present.
        lock = try store.lock(.shared, purpose: "import")
        batch = ObjectBatch(store: store)
    }

    deinit { if !finished { batch.abandon() } }

    /// Streams one file's content into a temp object; returns its digest and size. `next` yields
    /// chunks until it returns an empty one.
    package func addFile(display: String, next: () throws -> [UInt8]) throws -> (Digest, UInt64) {
        let tmp = try batch.createTemp()
        var hasher = ContentHasher()
        var size: UInt64 = 0
        do {
            while true {
                let chunk = try next()
                if chunk.isEmpty { break }
                try chunk.withUnsafeBytes { bytes in
                    hasher.update(bytes)
                    try Posix.writeAll(tmp.fd, bytes, display: display)
                }
                size += UInt64(chunk.count)
            }
            Posix.startWriteback(tmp.fd)
            Posix.close(tmp.fd)
        } catch {
            Posix.close(tmp.fd)
            batch.discard(tmp.name)
            throw error
        }
        let digest = hasher.finalize()
        if store.hasObject(digest) || !batch.claim(digest) {
            batch.discard(tmp.name)
        } else {
            batch.stage(tmp.name, as: digest)
        }
        return (digest, size)
    }

    /// Validates the tree, makes its objects and manifest durable, and records the release (and
    /// tag) with its history entry; `details` go into an extra entry of `action` about it.
    package func finish(
        entries: [ManifestEntry], app: AppName, tag version: String?, action: LedgerAction, details: [String: String],
        validate: Store.ReleaseValidator? = nil
    ) throws -> SealReport {
        var tagName: TagName?
        if let version {
            do { tagName = try TagName(app: app, version: version) } catch {
                throw StoreError(.badInput, error.description)
            }
        }
        let manifest: Manifest
        do { manifest = try Manifest(entries: entries) } catch {
            throw StoreError(.badInput, "the imported tree: \(error.description)")
        }
        if !store.hasObject(manifest.id.digest) && batch.claim(manifest.id.digest) {
            try manifest.bytes.withUnsafeBytes { try batch.stageNew($0, as: manifest.id.digest) }
        }
        try batch.commit()
        finished = true
        try validate?(manifest, store)
        let existed = try store.database.storeWrite { db -> Bool in
            let existed = try store.recordRelease(db, manifest: manifest, app: app)
            if let tagName { try store.recordTag(db, tagName, release: manifest.id) }
            try store.record(db, action: action, subject: manifest.id.description, details: details)
            return existed
        }
        withExtendedLifetime(lock) {}
        return SealReport(
            release: manifest.id, app: app.value, tag: tagName?.description, files: manifest.fileCount,
            bytes: manifest.fileBytes,
            entries: manifest.entries.count, newBlobs: 0, newBytes: 0, hashedFiles: manifest.fileCount, existed: existed
        )
    }
}
