import CFixitySys
import FixityCore
import FixityStore
import Glibc

/// The stat data of a deployment as materialized, so fast `verify` re-hashes only files whose
/// stat changed — and, in the common case, proves a clean tree without decoding the manifest at
/// all. A binary file at `ROOT/.fixity/snapshots/<deployment hex>` (format in docs/design.md,
/// "Stat snapshot"): the deployment's entries grouped by folder, each with the `st_mode` the
/// manifest implies and its inode, size, mtime and ctime in nanoseconds as written, in fixed-size
/// records read in place, and a SHA-256 over all of it.
///
/// ctime is the guard: no user can set it, so content rewritten with its mtime reset by
/// `touch -d` still misses, and a folder whose ctime is unchanged still holds the same names.
/// `provesClean` only ever answers "clean": at any difference at all it returns nil and the
/// caller runs the ordinary scan, which decodes the verified manifest from the store and says what
/// changed. A snapshot that is missing, truncated or fails its checksum is reported and verify
/// falls back to hashing everything. It lives in `ROOT/.fixity/` (0700); `verify --full` never
/// trusts it for anything but the order in which to start hashing.
package struct StatSnapshot: Sendable {
    static let magic = Array("fixity-snapshot\n".utf8)
    static let version: UInt32 = 2
    static let headerSize = 72
    static let folderRecordSize = 48
    static let childRecordSize = 48
    static let noTarget = UInt32.max
    static let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!

    /// Byte offsets in a folder record (docs/design.md, "Stat snapshot format"). `mtime` is
    /// followed by `ctime`, as `sameTimes` reads them.
    enum FolderField {
        static let path = 0
        static let firstChild = 4
        static let childCount = 8
        /// Children not matched by `[drift] ignore`.
        static let required = 12
        static let flags = 16
        static let inode = 24
        static let mtime = 32
        static let ctime = 40
    }

    /// Byte offsets in a child record. `mtime` is followed by `ctime`.
    enum ChildField {
        static let name = 0
        static let target = 4
        static let mode = 8
        static let flags = 12
        static let inode = 16
        static let size = 24
        static let mtime = 32
        static let ctime = 40
    }

    enum Flag {
        /// Matched by `[drift] ignore`: present or absent, anything goes.
        static let ignored: UInt32 = 1
        /// A file (or, on a folder record, a folder) whose stat data the snapshot recorded.
        static let vouched: UInt32 = 2
    }

    let bytes: [UInt8]
    let folderCount: Int
    let childCount: Int
    let folderTable: Int
    let childTable: Int
    let pool: Int
    let poolSize: Int
    /// Manifest entries matched by `[drift] ignore`.
    let ignoredEntries: Int
    let ignore: IgnoreRules

    /// What a clean proof saw.
    package struct CleanProof: Sendable {
        package let entriesChecked: Int
        package let ignored: Int
    }
}

/// Stat data by path, as the snapshot recorded it.
package struct RecordedStats: Sendable {
    package let entries: [String: FileStat]

    /// True when `live` has exactly the stat data recorded (device is not compared: it is not
    /// stable across reboots for some file systems).
    package func unchanged(_ path: String, _ live: FileStat) -> Bool {
        guard let recorded = entries[path] else { return false }
        return recorded.inode == live.inode && recorded.rawMode == live.rawMode && recorded.size == live.size
            && recorded.mtimeNanos == live.mtimeNanos && recorded.ctimeNanos == live.ctimeNanos
    }
}

/// Snapshot load failures: reported, and verify falls back to full mode.
package struct SnapshotProblem: Error, Sendable {
    package let message: String
}

extension StatSnapshot {
    /// mtime and ctime of `st` against the two recorded at `offset`.
    /// `offset`: a record's `mtime` field, with its `ctime` right after.
    static func sameTimes(_ st: stat, _ raw: UnsafeRawBufferPointer, _ offset: Int) -> Bool {
        let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        let ctime = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
        return UInt64(bitPattern: mtime) == raw.loadLE64(offset)
            && UInt64(bitPattern: ctime) == raw.loadLE64(offset + 8)
    }
}
