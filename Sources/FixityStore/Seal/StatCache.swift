import FixityCore
import Glibc

/// Remembers, per sealed folder and path, the stat data a file had when it was last hashed, so a
/// re-seal re-reads only files whose stat changed.
///
/// One binary file per sealed folder, `STORE/cache/stat/<hex SHA-256 of the folder's realpath>`
/// (format in docs/design.md, "The stat cache"): fixed-size records in the walk's canonical
/// order, so a seal looks its files up by a merge-join with the walk — no per-path strings, no
/// database rows — and a SHA-256 over the whole file. A missing, torn or foreign file is no cache
/// at all (every file is hashed); it is never trusted in part.
///
/// Racy-timestamp protection (as git's index): a file modified in the same clock tick as the
/// snapshot could change again without its mtime moving. So an entry is stored only when its mtime
/// is strictly older than the snapshot clock, taken from the store's own file system before the
/// walk; anything newer is re-hashed next time. ctime is part of the key: it cannot be set by
/// `touch -d` or `cp -p`, so restoring an old mtime over new content still misses the cache.
///
/// Blob presence: an entry also claims that its blob was in the store when it was written. Only
/// gc removes objects, and it first replaces `cache/gc-epoch`; a cache written under another epoch
/// is still used for digests, but each blob it names is checked for presence again.
struct StatCache {
    static let magic = Array("fixity-statcache".utf8)
    static let version: UInt32 = 1
    static let headerSize = 80
    static let recordSize = 88
    static let epochSize = 16

    /// Entries claimed for this folder, in canonical order.
    private let bytes: [UInt8]
    private let count: Int
    private let pool: Int
    /// False when gc ran since this cache was written: blobs must be checked.
    let blobsKnownPresent: Bool

    static let empty = StatCache(bytes: [], count: 0, pool: 0, blobsKnownPresent: false)

    /// The cache file's name for the folder sealed from `root` (its canonical path).
    static func fileName(root: String) -> String { "stat/" + Digest.of(Array(root.utf8)).hex }

    // MARK: Reading

    /// The cache for `root`, or `empty` when there is none usable.
    static func load(store: Store, root: String, epoch: [UInt8]) -> StatCache {
        guard let bytes = store.readCacheFile(fileName(root: root)) else { return .empty }
        return parse(bytes, root: root, epoch: epoch) ?? .empty
    }

    static func parse(_ bytes: [UInt8], root: String, epoch: [UInt8]) -> StatCache? {
        guard bytes.count >= headerSize + 32, bytes[0..<16].elementsEqual(magic), bytes.loadLE32(16) == version else {
            return nil
        }
        let bodyEnd = bytes.count - 32
        guard Digest.of(bytes[0..<bodyEnd]).bytes.elementsEqual(bytes[bodyEnd...]) else { return nil }
        // Made for this folder (a file copied between stores or renamed is not).
        guard bytes[48..<80].elementsEqual(Digest.of(Array(root.utf8)).bytes) else { return nil }
        let count = Int(bytes.loadLE32(20))
        let poolSize = Int(bytes.loadLE32(24))
        let pool = headerSize + count * recordSize
        guard pool + poolSize == bodyEnd else { return nil }
        let valid = bytes.withUnsafeBytes { raw in
            (0..<count).allSatisfy { index in
                let at = headerSize + index * recordSize
                return Int(raw.loadLE32(at)) + Int(raw.loadLE32(at + 4)) <= poolSize
            }
        }
        guard valid else { return nil }
        return StatCache(bytes: bytes, count: count, pool: pool, blobsKnownPresent: bytes[32..<48].elementsEqual(epoch))
    }

    /// Looks walked files up in walk order: each call moves forward only.
    struct Cursor {
        let cache: StatCache
        private var next = 0

        init(_ cache: StatCache) { self.cache = cache }

        /// The cached digest for a file whose stat data is unchanged, else nil. Calls must come
        /// in canonical path order (a walk's order).
        mutating func digest(for entry: WalkedEntry) -> Digest? {
            guard cache.count > 0 else { return nil }
            var path = entry.path
            let cache = self.cache
            var next = self.next
            defer { self.next = next }
            return path.withUTF8 { wanted in
                cache.bytes.withUnsafeBytes { raw -> Digest? in
                    while next < cache.count {
                        let at = StatCache.headerSize + next * StatCache.recordSize
                        let stored = UnsafeBufferPointer(
                            start: (raw.baseAddress! + cache.pool + Int(raw.loadLE32(at))).assumingMemoryBound(
                                to: UInt8.self),
                            count: Int(raw.loadLE32(at + 4)))
                        if EntryPath.precedes(stored, wanted) {
                            next += 1
                            continue
                        }
                        // Byte equality: Unicode-equivalent spellings (NFC and NFD) are different files.
                        guard stored.count == wanted.count,
                            memcmp(stored.baseAddress!, wanted.baseAddress!, wanted.count) == 0
                        else { return nil }
                        next += 1
                        let s = entry.stat
                        guard raw.loadLE64(at + 8) == s.device, raw.loadLE64(at + 16) == s.inode,
                            raw.loadLE32(at + 24) == s.rawMode,
                            raw.loadLE64(at + 32) == UInt64(bitPattern: s.size),
                            raw.loadLE64(at + 40) == UInt64(bitPattern: s.mtimeNanos),
                            raw.loadLE64(at + 48) == UInt64(bitPattern: s.ctimeNanos)
                        else { return nil }
                        return Digest(rawBytes: raw, at: at + 56)
                    }
                    return nil
                }
            }
        }
    }

    // MARK: Writing

    /// The cache for the walked files that have a digest (in walk order), leaving out racy
    /// entries: those whose mtime is not strictly older than `clockNanos`.
    static func encode(
        root: String, epoch: [UInt8], walked: [WalkedEntry], digests: SlotArray<Digest?>, clockNanos: Int64
    ) -> [UInt8] {
        var records = [UInt8]()
        records.reserveCapacity(walked.count * recordSize)
        var pool = [UInt8]()
        var count: UInt32 = 0
        for index in walked.indices {
            let entry = walked[index]
            guard let digest = digests[index], entry.stat.mtimeNanos < clockNanos else { continue }
            let s = entry.stat
            records.appendLE(UInt32(pool.count))
            records.appendLE(UInt32(entry.path.utf8.count))
            pool += entry.path.utf8
            records.appendLE(s.device)
            records.appendLE(s.inode)
            records.appendLE(s.rawMode)
            records.appendLE(UInt32(0))
            records.appendLE(UInt64(bitPattern: s.size))
            records.appendLE(UInt64(bitPattern: s.mtimeNanos))
            records.appendLE(UInt64(bitPattern: s.ctimeNanos))
            digest.append(to: &records)
            count += 1
        }
        var out = magic
        out.reserveCapacity(headerSize + records.count + pool.count + 32)
        out.appendLE(version)
        out.appendLE(count)
        out.appendLE(UInt32(pool.count))
        out.appendLE(UInt32(0))
        out += epoch.count == epochSize ? epoch : [UInt8](repeating: 0, count: epochSize)
        out += Digest.of(Array(root.utf8)).bytes
        out += records
        out += pool
        out += Digest.of(out).bytes
        return out
    }
}
