import FixityCore
import Glibc
import Synchronization

/// New objects of one operation, written by the protocol of DESIGN.md invariant 2:
///
/// 1. each object is written to `tmp/` under a unique name, created read-only;
/// 2. `commit()` makes all of them durable with one `syncfs` (an fsync per object costs
///    20,000 journal commits on a large tree; one syncfs costs one);
/// 3. only then renames each to `objects/sha256/<2>/<62>`;
/// 4. and makes the renames durable with a second `syncfs`.
///
/// A crash before 3 leaves only temp files (removed by gc); during 3, whole objects that no
/// release references yet (also removed by gc). Never a half-written object under its final name.
final class ObjectBatch: Sendable {
    struct Temp {
        let fd: Int32
        let name: String
        let display: String
    }

    let store: Store
    private let staged = Mutex<[(tmp: String, digest: Digest)]>([])
    private let claimed = Mutex<Set<Digest>>([])
    private let lanes = Mutex<Set<Int>>([])
    private let batchName = "batch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    private static let counter = Atomic<Int>(0)

    init(store: Store) { self.store = store }

    /// A new temp file, created 0444 (the mode objects keep), in `tmp/<batch>-<lane>/`. Each
    /// worker thread writes in its own lane folder: two threads creating thousands of files in
    /// one folder serialize on that folder's inode lock (measured: a third of the seal's system
    /// time on the benchmark corpus).
    func createTemp(lane: Int = 0) throws -> Temp {
        let folder = "\(batchName)-\(lane)"
        if lanes.withLock({ $0.insert(lane).inserted }) {
            try Posix.mkdirat(store.tmpFD, folder, mode: 0o700, display: "\(store.path)/tmp/\(folder)")
        }
        let name = "\(folder)/obj-\(Self.counter.add(1, ordering: .relaxed).newValue)"
        let display = "\(store.path)/tmp/\(name)"
        let fd = try Posix.openat(
            store.tmpFD, name, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o444, display: display)
        return Temp(fd: fd, name: name, display: display)
    }

    /// Writes bytes already in memory as a new temp object and stages it as `digest`; on failure
    /// the temp file is removed and nothing is staged.
    func stageNew(_ bytes: UnsafeRawBufferPointer, as digest: Digest, lane: Int = 0) throws {
        let tmp = try createTemp(lane: lane)
        do {
            try Posix.writeAll(tmp.fd, bytes, display: tmp.display)
            Posix.startWriteback(tmp.fd)
            Posix.close(tmp.fd)
        } catch {
            Posix.close(tmp.fd)
            discard(tmp.name)
            throw error
        }
        stage(tmp.name, as: digest)
    }

    /// True the first time a digest is claimed in this batch: the caller then writes it. Later
    /// claimers (identical files within one tree) skip the write.
    func claim(_ digest: Digest) -> Bool {
        claimed.withLock { $0.insert(digest).inserted }
    }

    func stage(_ tmpName: String, as digest: Digest) {
        staged.withLock { $0.append((tmpName, digest)) }
    }

    func discard(_ tmpName: String) {
        try? Posix.unlinkat(store.tmpFD, tmpName, display: tmpName)
    }

    /// Removes every staged temp file: the operation failed and publishes nothing.
    func abandon() {
        for item in staged.withLock({ $0 }) { discard(item.tmp) }
        removeLanes()
    }

    /// Removes the (now empty) lane folders; a non-empty one is left for gc.
    private func removeLanes() {
        for lane in lanes.withLock({ $0 }) {
            _ = unlinkat(store.tmpFD, "\(batchName)-\(lane)", AT_REMOVEDIR)
        }
    }

    /// Publishes every staged object. True when it ran `syncfs` (every write made before the
    /// call is then durable, not only the objects'); false when there was nothing to publish.
    @discardableResult
    func commit() throws -> Bool {
        let items = staged.withLock { $0 }
        defer { removeLanes() }
        guard !items.isEmpty else { return false }
        try Posix.syncfs(store.tmpFD, display: "\(store.path)/tmp")
        var fanouts = Set<String>()
        for item in items {
            let name = Store.objectName(item.digest)
            let fanout = String(name.prefix(2))
            if fanouts.insert(fanout).inserted {
                try Posix.mkdirat(
                    store.objectsFD, fanout, mode: 0o755, display: "\(store.path)/objects/sha256/\(fanout)")
            }
            try Posix.renameat(store.tmpFD, item.tmp, store.objectsFD, name, display: store.objectPath(item.digest))
        }
        try Posix.syncfs(store.objectsFD, display: "\(store.path)/objects")
        staged.withLock { $0.removeAll() }
        return true
    }
}
