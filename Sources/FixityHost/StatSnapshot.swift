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
public struct StatSnapshot: Sendable {
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
    public struct CleanProof: Sendable {
        public let entriesChecked: Int
        public let ignored: Int
    }

    // MARK: Writing

    /// The stat data of every folder and file of `manifest` as materialized below `treeFD`, by
    /// index in `manifest.entries` (nil for symlinks, whose stat the snapshot does not record).
    /// One `lstat` per entry by its path, on both cores, straight from the manifest: no walk, no
    /// listing, no path-keyed dictionary — the tree was just written from this manifest.
    public static func statEntries(of manifest: Manifest, below treeFD: Int32, display: String) throws -> [FileStat?] {
        let entries = manifest.entries
        let slots = SlotArray<FileStat?>(repeating: nil, count: entries.count)
        try ParallelWork.run(count: entries.count, makeContext: { _ in () }) { index, _ in
            let entry = entries[index]
            if case .symlink = entry.kind { return }
            var st = stat()
            guard fstatat(treeFD, entry.path, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw StoreError.system("stat", path: "\(display)/\(entry.path)")
            }
            slots[index] = FileStat(st)
        }
        return slots.elements
    }

    /// Encodes `manifest` (the combined tree of a deployment) with the stat data `stats` recorded
    /// for its entries (by index in `manifest.entries`; only folders' and files' are used).
    /// Entries matched by `ignore` are flagged, and folders below an ignored one are left out:
    /// nothing in them is checked.
    static func encode(deployment: Digest, manifest: Manifest, ignore: IgnoreRules, stats: [FileStat?]) -> [UInt8] {
        precondition(stats.count == manifest.entries.count, "one stat slot per manifest entry")
        struct Child { var name: String; var entry: ManifestEntry; var index: Int; var ignored: Bool }
        var folders: [(path: String, index: Int?, children: [Child])] = [("", nil, [])]
        var folderIndex: [String: Int] = ["": 0]
        var ignoredEntries = 0
        for (index, entry) in manifest.entries.enumerated() {
            let parent = EntryPath.parent(of: entry.path).map(String.init) ?? ""
            let ignored = ignore.ignores(entry.path)
            if ignored { ignoredEntries += 1 }
            // A parent without a folder record is ignored (or below an ignored folder).
            guard let slot = folderIndex[parent] else { continue }
            let name = parent.isEmpty ? entry.path : String(entry.path.utf8.dropFirst(parent.utf8.count + 1))!
            folders[slot].children.append(Child(name: name, entry: entry, index: index, ignored: ignored))
            if entry.isDirectory && !ignored {
                folderIndex[entry.path] = folders.count
                folders.append((entry.path, index, []))
            }
        }

        var pool = [UInt8]()
        func intern(_ text: String) -> UInt32 {
            let offset = UInt32(pool.count)
            pool += text.utf8
            pool.append(0)
            return offset
        }
        let patternsOffset = intern(ignore.patterns.joined(separator: "\n"))
        var folderTable = [UInt8]()
        var childTable = [UInt8]()
        var childTotal: UInt32 = 0
        for folder in folders {
            let children = folder.children.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
            folderTable.appendLE(intern(folder.path))
            folderTable.appendLE(childTotal)
            folderTable.appendLE(UInt32(children.count))
            folderTable.appendLE(UInt32(children.count { !$0.ignored }))
            // A folder's own stat vouches for its list of names: adding, removing or renaming an
            // entry moves its mtime and ctime, and no user can set ctime back.
            let folderStat = folder.index.flatMap { stats[$0] }
            folderTable.appendLE(folderStat == nil ? 0 : Flag.vouched)
            folderTable.appendLE(UInt32(0))
            folderTable.appendLE(folderStat?.inode ?? 0)
            folderTable.appendLE(UInt64(bitPattern: folderStat?.mtimeNanos ?? 0))
            folderTable.appendLE(UInt64(bitPattern: folderStat?.ctimeNanos ?? 0))
            for child in children {
                let entry = child.entry
                var mode = entry.mode
                var flags: UInt32 = child.ignored ? Flag.ignored : 0
                var target = noTarget
                var recorded: FileStat?
                switch entry.kind {
                case .directory: mode |= UInt32(S_IFDIR)
                case .symlink(let text):
                    mode |= UInt32(S_IFLNK)
                    target = intern(text)
                case .file:
                    mode |= UInt32(S_IFREG)
                    if let stat = stats[child.index] {
                        recorded = stat
                        flags |= Flag.vouched
                    }
                }
                childTable.appendLE(intern(child.name))
                childTable.appendLE(target)
                childTable.appendLE(mode)
                childTable.appendLE(flags)
                childTable.appendLE(recorded?.inode ?? 0)
                childTable.appendLE(UInt64(bitPattern: recorded?.size ?? 0))
                childTable.appendLE(UInt64(bitPattern: recorded?.mtimeNanos ?? 0))
                childTable.appendLE(UInt64(bitPattern: recorded?.ctimeNanos ?? 0))
            }
            childTotal += UInt32(children.count)
        }

        var out = magic
        out += deployment.bytes
        out.appendLE(UInt32(folders.count))
        out.appendLE(childTotal)
        out.appendLE(UInt32(pool.count))
        out.appendLE(UInt32(ignoredEntries))
        out.appendLE(patternsOffset)
        out.appendLE(version)
        out += folderTable
        out += childTable
        out += pool
        out += Digest.of(out).bytes
        return out
    }

    /// Writes the index durably (temp, fsync, rename); the caller fsyncs `.fixity/` with the rest.
    public static func write(
        deployment: Digest, manifest: Manifest, ignore: IgnoreRules, stats: [FileStat?], in root: DeployRoot
    ) throws {
        let bytes = encode(deployment: deployment, manifest: manifest, ignore: ignore, stats: stats)
        try Posix.mkdirat(root.stateFD, "snapshots", mode: 0o700, display: "\(root.path)/.fixity/snapshots")
        let name = "snapshots/\(deployment.hex)"
        let temp = "\(name).tmp-\(getpid())"
        let display = "\(root.path)/.fixity/\(name)"
        let fd = try Posix.openat(
            root.stateFD, temp, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600, display: display)
        do {
            try Posix.writeAll(fd, bytes, display: display)
            try Posix.fsync(fd, display: display)
            Posix.close(fd)
        } catch {
            Posix.close(fd)
            throw error
        }
        try Posix.renameat(root.stateFD, temp, root.stateFD, name, display: display)
    }

    public static func remove(for deployment: Digest, in root: DeployRoot) {
        _ = unlinkat(root.stateFD, "snapshots/\(deployment.hex)", 0)
    }

    // MARK: Reading

    /// The index of `deployment`, or why there is none usable (missing, truncated, a checksum or
    /// bounds failure, or made for another deployment).
    public static func load(for deployment: Digest, in root: DeployRoot) -> Result<StatSnapshot, SnapshotProblem> {
        let name = "snapshots/\(deployment.hex)"
        guard let fd = try? Posix.openat(root.stateFD, name, flags: O_RDONLY | O_NOFOLLOW, display: name) else {
            return .failure(SnapshotProblem(message: "no stat snapshot for this deployment"))
        }
        defer { Posix.close(fd) }
        guard let st = try? Posix.fstat(fd, display: name), st.isRegularFile, st.size < 1 << 32 else {
            return .failure(SnapshotProblem(message: "stat snapshot is not a plain file"))
        }
        var bytes = [UInt8](repeating: 0, count: Int(st.size))
        let count = bytes.withUnsafeMutableBytes { (try? Posix.read(fd, into: $0, display: name)) ?? -1 }
        guard count == bytes.count else { return .failure(SnapshotProblem(message: "stat snapshot could not be read")) }
        return parse(bytes, deployment: deployment)
    }

    static func parse(_ bytes: [UInt8], deployment: Digest) -> Result<StatSnapshot, SnapshotProblem> {
        func corrupt(_ why: String) -> Result<StatSnapshot, SnapshotProblem> {
            .failure(SnapshotProblem(message: "stat snapshot is corrupt (\(why))"))
        }
        guard bytes.count >= headerSize + 32, Array(bytes[0..<16]) == magic, bytes.loadLE32(68) == version else {
            return corrupt("bad header or truncated")
        }
        let bodyEnd = bytes.count - 32
        guard Digest.of(bytes[0..<bodyEnd]).bytes.elementsEqual(bytes[bodyEnd...]) else {
            return corrupt("checksum mismatch")
        }
        guard bytes[16..<48].elementsEqual(deployment.bytes) else { return corrupt("made for another deployment") }
        let folders = Int(bytes.loadLE32(48))
        let children = Int(bytes.loadLE32(52))
        let poolSize = Int(bytes.loadLE32(56))
        let folderTable = headerSize
        let childTable = folderTable + folders * folderRecordSize
        let pool = childTable + children * childRecordSize
        guard folders >= 1, pool + poolSize == bodyEnd, poolSize > 0, bytes[pool + poolSize - 1] == 0 else {
            return corrupt("bad table sizes")
        }
        // Every offset must land inside its table or the pool, so reading never leaves the file.
        func inPool(_ offset: UInt32) -> Bool { Int(offset) < poolSize }
        for f in 0..<folders {
            let at = folderTable + f * folderRecordSize
            let first = Int(bytes.loadLE32(at + FolderField.firstChild))
            let count = Int(bytes.loadLE32(at + FolderField.childCount))
            guard inPool(bytes.loadLE32(at + FolderField.path)), first + count <= children,
                Int(bytes.loadLE32(at + FolderField.required)) <= count
            else {
                return corrupt("bad folder record")
            }
        }
        for c in 0..<children {
            let at = childTable + c * childRecordSize
            let target = bytes.loadLE32(at + ChildField.target)
            guard inPool(bytes.loadLE32(at + ChildField.name)), target == noTarget || inPool(target) else {
                return corrupt("bad entry record")
            }
        }
        let patternsAt = bytes.loadLE32(64)
        guard inPool(patternsAt) else { return corrupt("bad ignore patterns") }
        let patternsText = bytes[(pool + Int(patternsAt))...].prefix { $0 != 0 }
        guard let text = String(validating: patternsText, as: UTF8.self),
            let ignore = try? IgnoreRules(
                text.isEmpty ? [] : text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        else { return corrupt("bad ignore patterns") }
        return .success(
            StatSnapshot(
                bytes: bytes, folderCount: folders, childCount: children, folderTable: folderTable,
                childTable: childTable, pool: pool,
                poolSize: poolSize, ignoredEntries: Int(bytes.loadLE32(60)), ignore: ignore))
    }

    /// The paths of the files listed (ignored ones included), biggest first so that one large
    /// file does not finish alone at the end of a parallel hash.
    func filePaths() -> [String] {
        bytes.withUnsafeBytes { raw in
            var files = [(path: String, size: UInt64)]()
            files.reserveCapacity(childCount)
            for folder in 0..<folderCount {
                let record = folderTable + folder * Self.folderRecordSize
                let folderPath = String(
                    cString: (raw.baseAddress! + pool + Int(raw.loadLE32(record + FolderField.path)))
                        .assumingMemoryBound(to: CChar.self))
                let first = Int(raw.loadLE32(record + FolderField.firstChild))
                for child in first..<(first + Int(raw.loadLE32(record + FolderField.childCount))) {
                    let at = childTable + child * Self.childRecordSize
                    guard raw.loadLE32(at + ChildField.mode) & UInt32(S_IFMT) == UInt32(S_IFREG) else { continue }
                    let name = String(
                        cString: (raw.baseAddress! + pool + Int(raw.loadLE32(at + ChildField.name)))
                            .assumingMemoryBound(to: CChar.self))
                    files.append(
                        (folderPath.isEmpty ? name : "\(folderPath)/\(name)", raw.loadLE64(at + ChildField.size)))
                }
            }
            return files.sorted { $0.size > $1.size }.map(\.path)
        }
    }

    /// The stat data recorded for files and folders, by path, for the ordinary scan.
    public func recorded() -> RecordedStats {
        bytes.withUnsafeBytes { raw in
            var entries = [String: FileStat](minimumCapacity: childCount)
            func text(_ offset: UInt32) -> String {
                String(cString: (raw.baseAddress! + pool + Int(offset)).assumingMemoryBound(to: CChar.self))
            }
            func stat(inode: Int, mtime: Int, ctime: Int, mode: UInt32, size: UInt64) -> FileStat {
                FileStat(
                    device: 0, inode: raw.loadLE64(inode), rawMode: mode, size: Int64(bitPattern: size),
                    mtimeNanos: Int64(bitPattern: raw.loadLE64(mtime)),
                    ctimeNanos: Int64(bitPattern: raw.loadLE64(ctime)))
            }
            for folder in 0..<folderCount {
                let record = folderTable + folder * Self.folderRecordSize
                let folderPath = text(raw.loadLE32(record + FolderField.path))
                if !folderPath.isEmpty, raw.loadLE32(record + FolderField.flags) & Flag.vouched != 0 {
                    entries[folderPath] = stat(
                        inode: record + FolderField.inode, mtime: record + FolderField.mtime,
                        ctime: record + FolderField.ctime, mode: UInt32(S_IFDIR), size: 0)
                }
                let first = Int(raw.loadLE32(record + FolderField.firstChild))
                for child in first..<(first + Int(raw.loadLE32(record + FolderField.childCount))) {
                    let at = childTable + child * Self.childRecordSize
                    guard raw.loadLE32(at + ChildField.flags) & Flag.vouched != 0 else { continue }
                    let name = text(raw.loadLE32(at + ChildField.name))
                    entries[folderPath.isEmpty ? name : "\(folderPath)/\(name)"] = stat(
                        inode: at + ChildField.inode, mtime: at + ChildField.mtime, ctime: at + ChildField.ctime,
                        mode: raw.loadLE32(at + ChildField.mode), size: raw.loadLE64(at + ChildField.size))
                }
            }
            return RecordedStats(entries: entries)
        }
    }

    /// Rewrites the snapshot with new stat data for `repaired` paths (and without `gone` ones),
    /// keeping every other recorded entry as it was: a repair blesses only what it wrote.
    public static func update(
        for deployment: Digest, in root: DeployRoot, manifest: Manifest, ignore: IgnoreRules,
        repaired: [String: FileStat], gone: Set<String>
    ) throws {
        var entries: [String: FileStat] = [:]
        if case .success(let old) = load(for: deployment, in: root) { entries = old.recorded().entries }
        for path in gone { entries[path] = nil }
        for (path, stat) in repaired { entries[path] = stat }
        try write(
            deployment: deployment, manifest: manifest, ignore: ignore,
            stats: manifest.entries.map { entries[$0.path] }, in: root)
    }
}

/// Stat data by path, as the snapshot recorded it.
public struct RecordedStats: Sendable {
    public let entries: [String: FileStat]

    /// True when `live` has exactly the stat data recorded (device is not compared: it is not
    /// stable across reboots for some file systems).
    public func unchanged(_ path: String, _ live: FileStat) -> Bool {
        guard let recorded = entries[path] else { return false }
        return recorded.inode == live.inode && recorded.rawMode == live.rawMode && recorded.size == live.size
            && recorded.mtimeNanos == live.mtimeNanos && recorded.ctimeNanos == live.ctimeNanos
    }
}

/// Snapshot load failures: reported, and verify falls back to full mode.
public struct SnapshotProblem: Error, Sendable {
    public let message: String
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
