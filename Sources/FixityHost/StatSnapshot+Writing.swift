import CFixitySys
import FixityCore
import FixityStore
import Glibc

/// Writing a snapshot: the stats of a fresh tree, the encoding (format in docs/design.md), the
/// durable write, removal.
extension StatSnapshot {

    /// The stat data of every folder and file of `manifest` as materialized below `treeFD`, by
    /// index in `manifest.entries` (nil for symlinks, whose stat the snapshot does not record).
    /// One `lstat` per entry by its path, on both cores, straight from the manifest: no walk, no
    /// listing, no path-keyed dictionary — the tree was just written from this manifest.
    package static func statEntries(of manifest: Manifest, below treeFD: Int32, display: String) throws -> [FileStat?] {
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
    package static func write(
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

    package static func remove(for deployment: Digest, in root: DeployRoot) {
        _ = unlinkat(root.stateFD, "snapshots/\(deployment.hex)", 0)
    }
}
