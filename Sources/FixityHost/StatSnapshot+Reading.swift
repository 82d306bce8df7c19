import CFixitySys
import FixityCore
import FixityStore
import Glibc

/// Reading a snapshot: loading and validating it, and what the ordinary scan and a repair take
/// from it.
extension StatSnapshot {

    /// The index of `deployment`, or why there is none usable (missing, truncated, a checksum or
    /// bounds failure, or made for another deployment).
    package static func load(for deployment: Digest, in root: DeployRoot) -> Result<StatSnapshot, SnapshotProblem> {
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
    package func recorded() -> RecordedStats {
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
    package static func update(
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
