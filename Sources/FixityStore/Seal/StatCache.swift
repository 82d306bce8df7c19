import FixityCore
import GRDB

/// Remembers, per sealed folder and path, the stat data a file had when it was last hashed, so a
/// re-seal re-reads only files whose stat changed.
///
/// Racy-timestamp protection (as git's index): a file modified in the same clock tick as the
/// snapshot could change again without its mtime moving. So an entry is stored only when its mtime
/// is strictly older than the snapshot clock, taken from the store's own file system before the
/// walk; anything newer is re-hashed next time. ctime is part of the key: it cannot be set by
/// `touch -d` or `cp -p`, so restoring an old mtime over new content still misses the cache.
struct StatCache {
    struct Row: Equatable {
        let path: String
        let stat: FileStat
        let digest: Digest
    }

    let root: String
    private(set) var rows: [String: Row] = [:]

    static func load(_ db: Database, root: String) throws -> StatCache {
        var cache = StatCache(root: root)
        let cursor = try GRDB.Row.fetchCursor(db, sql: "SELECT * FROM stat_cache WHERE root = ?", arguments: [root])
        while let row = try cursor.next() {
            let digestText: String = row["digest"]
            guard let digest = Digest(parsing: digestText) else { continue }
            let path: String = row["path"]
            let stat = FileStat(
                device: UInt64(bitPattern: row["device"]), inode: UInt64(bitPattern: row["inode"]), rawMode: UInt32(truncatingIfNeeded: row["mode"] as Int64),
                size: row["size"], mtimeNanos: row["mtime_ns"], ctimeNanos: row["ctime_ns"])
            cache.rows[path] = Row(path: path, stat: stat, digest: digest)
        }
        return cache
    }

    /// The cached digest for a file whose stat data is unchanged, else nil.
    func digest(for entry: WalkedEntry) -> Digest? {
        // Dictionary keys compare Unicode-canonically; the byte check keeps NFC and NFD apart.
        guard let row = rows[entry.path], row.path.utf8.elementsEqual(entry.path.utf8), row.stat == entry.stat else { return nil }
        return row.digest
    }

    /// Writes the rows that changed and deletes the ones for files that are gone or racy.
    func save(_ db: Database, files: [(entry: WalkedEntry, digest: Digest)], clockNanos: Int64) throws {
        var seen = Set<String>()
        let upsert = try db.makeStatement(
            sql: """
                INSERT OR REPLACE INTO stat_cache (root, path, device, inode, mode, size, mtime_ns, ctime_ns, digest)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let delete = try db.makeStatement(sql: "DELETE FROM stat_cache WHERE root = ? AND path = ?")
        for (entry, digest) in files {
            seen.insert(entry.path)
            let current = Row(path: entry.path, stat: entry.stat, digest: digest)
            let cached = rows[entry.path]
            if entry.stat.mtimeNanos >= clockNanos {
                if cached != nil { try delete.execute(arguments: [root, entry.path]) }
                continue
            }
            if cached == current { continue }
            let s = entry.stat
            try upsert.execute(arguments: [
                root, entry.path, Int64(bitPattern: s.device), Int64(bitPattern: s.inode), Int64(s.rawMode), s.size,
                s.mtimeNanos, s.ctimeNanos, digest.description,
            ])
        }
        for path in rows.keys where !seen.contains(path) {
            try delete.execute(arguments: [root, path])
        }
    }
}
