import FixityCore
import FixityStore
import Glibc

/// The stat data of every entry of a deployment as materialized, so fast `verify` re-hashes only
/// files whose stat changed. Kept at `ROOT/.fixity/snapshots/<deployment hex>`:
///
///     fixity-snapshot 1\n
///     <inode>\t<st_mode>\t<size>\t<mtime ns>\t<ctime ns>\t<path>\n     (one per entry)
///     sha256:<hex of every byte above>\n
///
/// ctime is the guard: no user can set it, so content rewritten with its mtime reset by
/// `touch -d` still misses. A snapshot that is missing, truncated or fails its checksum is
/// reported and verify falls back to hashing everything.
public struct StatSnapshot: Sendable {
    public let entries: [String: FileStat]

    static let header = "fixity-snapshot 1\n"

    public static func write(_ walked: [WalkedEntry], for deployment: Digest, in root: DeployRoot) throws {
        var text = header
        for entry in walked {
            let s = entry.stat
            text += "\(s.inode)\t\(s.rawMode)\t\(s.size)\t\(s.mtimeNanos)\t\(s.ctimeNanos)\t\(entry.path)\n"
        }
        text += Digest.of(Array(text.utf8)).description + "\n"
        try Posix.mkdirat(root.stateFD, "snapshots", mode: 0o700, display: "\(root.path)/.fixity/snapshots")
        let name = "snapshots/\(deployment.hex)"
        let temp = "\(name).tmp-\(getpid())"
        let display = "\(root.path)/.fixity/\(name)"
        let fd = try Posix.openat(root.stateFD, temp, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600, display: display)
        do {
            try Posix.writeAll(fd, Array(text.utf8), display: display)
            try Posix.fsync(fd, display: display)
            Posix.close(fd)
        } catch {
            Posix.close(fd)
            throw error
        }
        try Posix.renameat(root.stateFD, temp, root.stateFD, name, display: display)
    }

    /// The snapshot, or why there is none usable.
    public static func load(for deployment: Digest, in root: DeployRoot) -> Result<StatSnapshot, SnapshotProblem> {
        let name = "snapshots/\(deployment.hex)"
        guard let fd = try? Posix.openat(root.stateFD, name, flags: O_RDONLY | O_NOFOLLOW, display: name) else {
            return .failure(SnapshotProblem(message: "no stat snapshot for this deployment"))
        }
        defer { Posix.close(fd) }
        var bytes = [UInt8]()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while let n = try? Posix.read(fd, into: buffer, display: name), n > 0 { bytes += buffer[0..<n] }
        guard let text = String(validating: bytes, as: UTF8.self), text.hasPrefix(header), text.hasSuffix("\n") else {
            return .failure(SnapshotProblem(message: "stat snapshot is corrupt (bad header or truncated)"))
        }
        let body = text.dropLast()
        guard let lastNewline = body.lastIndex(of: "\n"),
            case let linesEnd = text[...lastNewline].utf8.count,
            Digest(parsing: body[body.index(after: lastNewline)...]) == Digest.of(bytes[0..<linesEnd])
        else {
            return .failure(SnapshotProblem(message: "stat snapshot is corrupt (checksum mismatch)"))
        }
        // Parsed from the bytes: this runs on every fast verify and every watch check.
        guard let entries = parseLines(bytes[header.utf8.count..<linesEnd]) else {
            return .failure(SnapshotProblem(message: "stat snapshot is corrupt (bad line)"))
        }
        return .success(StatSnapshot(entries: entries))
    }

    /// `inode \t mode \t size \t mtime \t ctime \t path \n` lines; nil on any malformed line.
    private static func parseLines(_ bytes: ArraySlice<UInt8>) -> [String: FileStat]? {
        var entries = [String: FileStat]()
        entries.reserveCapacity(bytes.count / 60)
        var index = bytes.startIndex
        let end = bytes.endIndex
        func number() -> Int64? {
            var value: Int64 = 0
            var digits = 0
            var negative = false
            if index < end && bytes[index] == UInt8(ascii: "-") {
                negative = true
                index += 1
            }
            while index < end, bytes[index] >= 48, bytes[index] <= 57 {
                value = value &* 10 &+ Int64(bytes[index] - 48)
                digits += 1
                index += 1
            }
            guard digits > 0, digits <= 19, index < end, bytes[index] == 9 else { return nil }
            index += 1
            return negative ? -value : value
        }
        while index < end {
            guard let inode = number(), let mode = number(), let size = number(), let mtime = number(), let ctime = number() else { return nil }
            guard let newline = bytes[index...].firstIndex(of: 10) else { return nil }
            let path = String(decoding: bytes[index..<newline], as: UTF8.self)
            index = newline + 1
            entries[path] = FileStat(
                device: 0, inode: UInt64(bitPattern: inode), rawMode: UInt32(truncatingIfNeeded: mode), size: size, mtimeNanos: mtime,
                ctimeNanos: ctime)
        }
        return entries
    }

    /// True when `live` has exactly the stat data recorded (device is not compared: it is not
    /// stable across reboots for some file systems).
    public func unchanged(_ path: String, _ live: FileStat) -> Bool {
        guard let recorded = entries[path] else { return false }
        return recorded.inode == live.inode && recorded.rawMode == live.rawMode && recorded.size == live.size
            && recorded.mtimeNanos == live.mtimeNanos && recorded.ctimeNanos == live.ctimeNanos
    }

    /// Rewrites the snapshot with new stat data for `repaired` paths (and without `gone` ones),
    /// keeping every other recorded entry as it was: a repair blesses only what it wrote.
    public static func update(for deployment: Digest, in root: DeployRoot, repaired: [String: FileStat], gone: Set<String>) throws {
        var entries: [String: FileStat] = [:]
        if case .success(let old) = load(for: deployment, in: root) { entries = old.entries }
        for path in gone { entries[path] = nil }
        for (path, stat) in repaired { entries[path] = stat }
        let walked = entries.keys.sorted { EntryPath.precedes($0, $1) }.map { WalkedEntry(path: $0, stat: entries[$0]!, target: nil) }
        try write(walked, for: deployment, in: root)
    }

    public static func remove(for deployment: Digest, in root: DeployRoot) {
        _ = unlinkat(root.stateFD, "snapshots/\(deployment.hex)", 0)
    }
}

public struct SnapshotProblem: Error, Sendable {
    public let message: String
}
