import CFixitySys
import FixityCore
import FixityLedger
import FixityStore
import Foundation
import Glibc

/// One file kept as evidence.
package struct EvidenceFile: Sendable, Codable {
    package let path: String
    package let kind: String
    package let digest: Digest?
    package let target: String?
    package let size: Int64
    package let mode: String
    package let uid: UInt32
    package let gid: UInt32
    package let inode: UInt64
    package let mtimeNanos: Int64
    package let ctimeNanos: Int64
    /// Why the bytes were not kept (over a cap), with what was recorded instead.
    package var note: String?

    enum CodingKeys: String, CodingKey {
        case path, kind, digest, target, size, mode, uid, gid, inode, mtimeNanos = "mtime_ns", ctimeNanos = "ctime_ns",
            note
    }
}

/// How much a repair copies into evidence: a writable folder in the live tree must not be able
/// to make root copy a terabyte (a sparse file costs its writer nothing) into the store.
package struct EvidenceLimits: Sendable {
    /// Files larger than this keep their stat data and a note, not their bytes.
    package var maxFileBytes: Int64 = 64 << 20
    /// Once a repair has copied this much, later files keep their stat data and a note only.
    package var maxTotalBytes: Int64 = 1 << 30

    package init() {}
}

/// What a repair kept: `STORE/evidence/<id>/evidence.json` and the files under `files/`.
package struct EvidenceRecord: Sendable, Codable {
    package let id: String
    package let time: String
    package let root: String
    package let deployment: Digest
    package let release: ReleaseID
    package let actor: String
    package let drift: DriftReport
    package let files: [EvidenceFile]
}

/// Evidence is written like everything else in the store: into a temporary folder, made durable
/// with `syncfs`, then renamed into place, before the repair touches the live tree.
package enum Evidence {
    static func collect(
        _ found: VerifyOutcome, treeFD: Int32, store: Store, rootKey: String, limits: EvidenceLimits = EvidenceLimits()
    ) throws -> String {
        let now = store.clock.now()
        let stamp = Instant(now).description.replacingOccurrences(of: ":", with: "").replacingOccurrences(
            of: "-", with: ""
        ).prefix(15)
        let id = "\(stamp)Z-\(found.deployment.hex.prefix(12))-\(UInt16.random(in: 0...UInt16.max))"
        let evidenceRoot = "\(store.path)/evidence"
        if mkdir(evidenceRoot, 0o700) != 0 && errno != EEXIST { throw StoreError.system("mkdir", path: evidenceRoot) }
        let incoming = "\(evidenceRoot)/.incoming-\(id)"
        if mkdir(incoming, 0o700) != 0 || mkdir("\(incoming)/files", 0o700) != 0 {
            throw StoreError.system("mkdir", path: incoming)
        }
        do {
            var files = [EvidenceFile]()
            let filesFD = try Posix.open("\(incoming)/files", flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
            defer { Posix.close(filesFD) }
            let keep = Set(found.report.modified + found.report.added + found.report.typeChanged)
            var budget = limits.maxTotalBytes
            for path in keep.sorted(by: { EntryPath.precedes($0, $1) }) {
                if let file = try keepOne(
                    path, treeFD: treeFD, into: filesFD, display: "\(incoming)/files/\(path)", limits: limits,
                    budget: &budget)
                {
                    files.append(file)
                }
            }
            let record = EvidenceRecord(
                id: id, time: Instant(now).description, root: rootKey, deployment: found.deployment,
                release: found.release,
                actor: Identity.user, drift: found.report, files: files)
            try JSONStyle.pretty.encoder().encode(record).write(to: URL(fileURLWithPath: "\(incoming)/evidence.json"))
            try Posix.syncfs(filesFD, display: incoming)
            guard rename(incoming, "\(evidenceRoot)/\(id)") == 0 else {
                throw StoreError.system("rename", path: incoming)
            }
            let dirFD = try Posix.open(evidenceRoot, flags: O_RDONLY | O_DIRECTORY)
            defer { Posix.close(dirFD) }
            try Posix.fsync(dirFD, display: evidenceRoot)
        } catch {
            _ = try? Posix.removeTree(AT_FDCWD, incoming, display: incoming)
            throw error
        }
        return id
    }

    /// Copies one drifted entry (a file's bytes, a link's target, a folder's listing by recursion).
    private static func keepOne(
        _ path: String, treeFD: Int32, into filesFD: Int32, display: String, limits: EvidenceLimits, budget: inout Int64
    ) throws -> EvidenceFile? {
        var st = stat()
        guard fstatat(treeFD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        let stat = FileStat(st)
        if stat.isRegularFile && (stat.size > limits.maxFileBytes || stat.size > budget) {
            // Neither copied nor hashed (hashing a sparse terabyte costs as much as copying it):
            // its size, allocation and stat data say what it was.
            let allocated = Int64(st.st_blocks) * 512
            let why =
                stat.size > limits.maxFileBytes
                ? "over the evidence cap of \(limits.maxFileBytes) bytes per file"
                : "over what is left of this repair's evidence cap of \(limits.maxTotalBytes) bytes"
            var file = EvidenceFile(
                path: path, kind: stat.typeDescription, digest: nil, target: nil, size: stat.size,
                mode: ManifestEntry.octalMode(stat.permissions), uid: st.st_uid, gid: st.st_gid, inode: stat.inode,
                mtimeNanos: stat.mtimeNanos, ctimeNanos: stat.ctimeNanos)
            file.note =
                "not kept: \(stat.size) bytes (\(allocated) allocated\(allocated < stat.size ? ", sparse" : "")), \(why)"
            return file
        }
        if stat.isRegularFile { budget -= stat.size }
        // Mirror the folders leading to the path inside files/.
        var prefix = ""
        for component in path.split(separator: "/").dropLast() {
            prefix += (prefix.isEmpty ? "" : "/") + component
            _ = mkdirat(filesFD, prefix, 0o700)
        }
        var digest: Digest?
        var target: String?
        if stat.isRegularFile {
            // Resolved beneath the tree with no symlink anywhere on the way: a folder of the path
            // swapped for a symlink cannot make root copy a file from elsewhere into evidence.
            let source = fixity_open_file_beneath(treeFD, path, O_RDONLY | O_NONBLOCK)
            guard source >= 0 else { throw StoreError.system("open for evidence", path: "\(display) (\(path))") }
            defer { Posix.close(source) }
            let copy = try Posix.openat(
                filesFD, path, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o400, display: display)
            defer { Posix.close(copy) }
            let buffer = IOBuffer.allocate()
            defer { buffer.deallocate() }
            digest = try Posix.hashToEnd(source, buffer: buffer, display: path) {
                try Posix.writeAll(copy, $0, display: display)
            }.digest
        } else if stat.isSymlink {
            let parentPath = EntryPath.parent(of: path).map(String.init)
            let parent = parentPath.map { fixity_open_beneath(treeFD, $0) } ?? Glibc.dup(treeFD)
            guard parent >= 0 else { throw StoreError.system("open for evidence", path: "\(display) (\(path))") }
            defer { Posix.close(parent) }
            let name = parentPath.map { String(path.utf8.dropFirst($0.utf8.count + 1))! } ?? path
            target = EntryPath.describe(bytes: try Posix.readlinkat(parent, name, display: path))
        } else if stat.isDirectory {
            _ = mkdirat(filesFD, path, 0o700)
        }
        return EvidenceFile(
            path: path, kind: stat.typeDescription, digest: digest, target: target, size: stat.size,
            mode: ManifestEntry.octalMode(stat.permissions), uid: st.st_uid, gid: st.st_gid, inode: stat.inode,
            mtimeNanos: stat.mtimeNanos, ctimeNanos: stat.ctimeNanos)
    }

    /// Every evidence record in the store, oldest first.
    package static func list(store: Store) throws -> [EvidenceRecord] {
        let folder = "\(store.path)/evidence"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        return try names.filter { !$0.hasPrefix(".") }.sorted().map { name in
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name)/evidence.json"))
            return try JSONDecoder().decode(EvidenceRecord.self, from: data)
        }
    }
}
