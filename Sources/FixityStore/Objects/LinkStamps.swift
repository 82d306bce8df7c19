import FixityCore
import Foundation
import GRDB

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
public struct LinkStamp: Sendable, Equatable {
    public let inode: UInt64
    public let size: Int64
    public let mtimeNanos: Int64
    public let ctimeNanos: Int64

    public init(_ stat: FileStat) {
        inode = stat.inode
        size = stat.size
        mtimeNanos = stat.mtimeNanos
        ctimeNanos = stat.ctimeNanos
    }

    /// The stat shows exactly the stamped state.
    public func matches(_ stat: FileStat) -> Bool { LinkStamp(stat) == self }

    /// The stat differs from a verified one only in ctime (a hard link was added or removed).
    func sameContent(as stat: FileStat) -> Bool { inode == stat.inode && size == stat.size && mtimeNanos == stat.mtimeNanos }
}

/// Whether a hardlink deploy trusts stamped sources or re-hashes all of them.
public enum SourceVerification: String, Sendable, CaseIterable {
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
    }

    /// After a hardlink deploy: stamps each source again from `linked` (its stat seen through the
    /// new tree, after every link was made — linking moves ctime), but only when inode, size and
    /// mtime are still those of `verified` (a write meanwhile leaves it unstamped: re-hashed next
    /// time). `linked` maps link source names to a stat of that inode.
    public func restampLinkSources(verified: [String: FileStat], linked: [String: FileStat]) throws {
        var fresh = [String: LinkStamp?]()
        for (name, before) in verified {
            if let now = linked[name], LinkStamp(before).sameContent(as: now) {
                fresh[name] = LinkStamp(now)
            } else {
                fresh[name] = .some(nil)
            }
        }
        try saveLinkStamps(fresh)
    }

    /// The current stat of each named link source that exists and has a stamp.
    public func stampedLinkSourceStats(_ names: Set<String>) throws -> [String: FileStat] {
        let stamps = try loadLinkStamps()
        var stats = [String: FileStat]()
        for name in names where stamps[name] != nil {
            if let stat = try? Posix.lstatat(linksFD, name, display: "") { stats[name] = stat }
        }
        return stats
    }

    /// After Fixity removed links to these sources (retention): removing a link moves ctime too.
    /// A source whose stat `before` the removal matched its stamp exactly, and whose inode, size
    /// and mtime are unchanged after, is stamped again; any other keeps its (now stale) stamp and
    /// is re-hashed by the next deploy that links it.
    public func restampAfterUnlinking(before: [String: FileStat]) throws {
        let stamps = try loadLinkStamps()
        var fresh = [String: LinkStamp?]()
        for (name, stat) in before {
            guard let stamp = stamps[name], stamp.matches(stat), let now = (try? Posix.lstatat(linksFD, name, display: "")) ?? nil,
                LinkStamp(stat).sameContent(as: now)
            else { continue }
            fresh[name] = LinkStamp(now)
        }
        try saveLinkStamps(fresh)
    }

    /// Every stamp, by link source name (`<mode>/<2 hex>/<62 hex>`).
    func loadLinkStamps() throws -> [String: LinkStamp] {
        try database.storeRead { db in
            var stamps = [String: LinkStamp]()
            let rows = try Row.fetchCursor(db, sql: "SELECT source, inode, size, mtime_ns, ctime_ns FROM link_stamps")
            while let row = try rows.next() {
                let stat = FileStat(
                    device: 0, inode: UInt64(bitPattern: row["inode"] as Int64), rawMode: 0, size: row["size"],
                    mtimeNanos: row["mtime_ns"], ctimeNanos: row["ctime_ns"])
                stamps[row["source"]] = LinkStamp(stat)
            }
            return stamps
        }
    }

    /// Replaces the stamps of these sources (nil: forget the stamp) in one transaction.
    func saveLinkStamps(_ stamps: [String: LinkStamp?]) throws {
        guard !stamps.isEmpty else { return }
        try database.storeWrite { db in
            // Prepared once: a hardlink deploy re-stamps every source it linked (19,349 rows on the
            // benchmark corpus), and parsing the SQL per row was a tenth of its CPU.
            let upsert = try db.makeStatement(sql: "INSERT OR REPLACE INTO link_stamps (source, inode, size, mtime_ns, ctime_ns) VALUES (?, ?, ?, ?, ?)")
            let delete = try db.makeStatement(sql: "DELETE FROM link_stamps WHERE source = ?")
            for (source, stamp) in stamps {
                if let stamp {
                    try upsert.execute(arguments: [source, Int64(bitPattern: stamp.inode), stamp.size, stamp.mtimeNanos, stamp.ctimeNanos])
                } else {
                    try delete.execute(arguments: [source])
                }
            }
        }
    }
}
