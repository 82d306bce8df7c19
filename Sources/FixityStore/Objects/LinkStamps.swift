import FixityCore
import GRDB
import Glibc

/// Verified stamps of hardlink sources (`links/`), so a hardlink deploy need not re-hash every
/// source every time (what kept it from `ostree checkout -H`, which hashes nothing).
///
/// Trust model — the same reasoning as fast verify's stat snapshot: a stamp is the source's
/// inode, size, mtime and ctime (nanoseconds) recorded right after Fixity verified its bytes. No
/// write can leave ctime unchanged (and no user can set ctime), so a source whose stat matches its
/// stamp exactly holds the bytes that were verified; anything else — a write through some
/// deployment's link, even one that restores size and mtime with `touch -r` — moves ctime, and
/// the source is re-hashed (and replaced from `objects/` when wrong). Creating a hard link also
/// moves ctime, so a deploy re-stamps the sources it linked, but only those whose inode, size and
/// mtime are still what it verified. `deploy --verify-sources always` re-hashes every source;
/// `fsck` re-hashes every source and stamps it anew.
package struct LinkStamp: Sendable, Equatable {
    package let inode: UInt64
    package let size: Int64
    package let mtimeNanos: Int64
    package let ctimeNanos: Int64

    init(inode: UInt64, size: Int64, mtimeNanos: Int64, ctimeNanos: Int64) {
        self.inode = inode
        self.size = size
        self.mtimeNanos = mtimeNanos
        self.ctimeNanos = ctimeNanos
    }

    package init(_ stat: FileStat) {
        inode = stat.inode
        size = stat.size
        mtimeNanos = stat.mtimeNanos
        ctimeNanos = stat.ctimeNanos
    }

    /// The stat shows exactly the stamped state.
    package func matches(_ stat: FileStat) -> Bool { LinkStamp(stat) == self }

    /// The stat differs from a verified one only in ctime (a hard link was added or removed).
    func sameContent(as stat: FileStat) -> Bool {
        inode == stat.inode && size == stat.size && mtimeNanos == stat.mtimeNanos
    }
}

/// Whether a hardlink deploy trusts stamped sources or re-hashes all of them.
package enum SourceVerification: String, Sendable, CaseIterable {
    case stamped
    case always
}

extension Store {
    static func registerLinkStamps(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("links-v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE link_stamps (
                        source TEXT PRIMARY KEY,
                        inode INTEGER NOT NULL,
                        size INTEGER NOT NULL,
                        mtime_ns INTEGER NOT NULL,
                        ctime_ns INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        // The stamps moved to `cache/link-stamps` (LinkStampFile). Dropping the rows is a safe
        // migration: a source without a stamp is re-hashed once by the next deploy that links it.
        migrator.registerMigration("link-stamps-file-v1") { db in
            try db.execute(sql: "DROP TABLE IF EXISTS link_stamps")
        }
    }

    /// After a hardlink deploy: stamps each source again from its stat seen through the new tree
    /// after every link was made (linking moves ctime), but only when inode, size and mtime are
    /// still those it had when verified (a write meanwhile leaves it unstamped: re-hashed next time).
    package func restampLinkSources(_ sources: [(key: LinkSourceKey, verified: FileStat, linked: FileStat?)]) throws {
        var fresh = [LinkSourceKey: LinkStamp?](minimumCapacity: sources.count)
        for source in sources {
            if let now = source.linked, LinkStamp(source.verified).sameContent(as: now) {
                fresh[source.key] = LinkStamp(now)
            } else {
                fresh[source.key] = .some(nil)
            }
        }
        try updateLinkStamps(fresh)
    }

    /// The current stat of each link source that exists and has a stamp.
    package func stampedLinkSourceStats(_ keys: Set<LinkSourceKey>) throws -> [LinkSourceKey: FileStat] {
        let stamps = loadLinkStamps()
        var stats = [LinkSourceKey: FileStat]()
        for key in keys where stamps[key] != nil {
            if let stat = try? Posix.lstatat(linksFD, key.name, display: "") { stats[key] = stat }
        }
        return stats
    }

    /// After Fixity removed links to these sources (retention): removing a link moves ctime too.
    /// A source whose stat `before` the removal matched its stamp exactly, and whose inode, size
    /// and mtime are unchanged after, is stamped again; any other keeps its (now stale) stamp and
    /// is re-hashed by the next deploy that links it.
    package func restampAfterUnlinking(before: [LinkSourceKey: FileStat]) throws {
        let stamps = loadLinkStamps()
        var fresh = [LinkSourceKey: LinkStamp?]()
        for (key, stat) in before {
            guard let stamp = stamps[key], stamp.matches(stat),
                let now = (try? Posix.lstatat(linksFD, key.name, display: "")) ?? nil,
                LinkStamp(stat).sameContent(as: now)
            else { continue }
            fresh[key] = LinkStamp(now)
        }
        try updateLinkStamps(fresh)
    }

    /// Every stamp; none when the file is missing or damaged (then every source is re-hashed).
    func loadLinkStamps() -> [LinkSourceKey: LinkStamp] {
        readCacheFile(LinkStampFile.name).flatMap(LinkStampFile.parse) ?? [:]
    }

    /// Replaces the stamps of these sources (nil: forget the stamp), keeping every other one.
    /// Read, changed and replaced under `cache/link-stamps.lock`, so two deploys sharing the store
    /// never drop each other's stamps. Not synced: a file torn by a crash fails its checksum, and
    /// losing stamps only costs re-hashing (an old stamp never matches a changed source: ctime).
    func updateLinkStamps(_ changes: [LinkSourceKey: LinkStamp?]) throws {
        guard !changes.isEmpty else { return }
        let lock = try FileLock(
            path: "\(path)/cache/\(LinkStampFile.name).lock", kind: .exclusive, timeout: 60,
            purpose: "updating link stamps")
        defer { withExtendedLifetime(lock) {} }
        var stamps = loadLinkStamps()
        for (key, stamp) in changes { stamps[key] = stamp }
        let temp = try stageCacheFile(LinkStampFile.encode(stamps))
        try publishCacheFile(temp, as: LinkStampFile.name, durable: true)
    }
}
