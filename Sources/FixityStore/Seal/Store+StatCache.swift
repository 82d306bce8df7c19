import FixityCore
import Glibc

/// Where the seal stat cache lives and how it is replaced (the format is StatCache's).
extension Store {
    static let gcEpochName = "gc-epoch"

    /// The current gc epoch: 16 bytes gc replaces before it removes any object. All zeros when
    /// gc never removed one (or the file is unreadable, which only costs presence checks).
    func gcEpoch() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: StatCache.epochSize)
        guard let fd = try? Posix.openat(cacheFD, Self.gcEpochName, flags: O_RDONLY | O_NOFOLLOW, display: Self.gcEpochName) else { return bytes }
        defer { Posix.close(fd) }
        let read = bytes.withUnsafeMutableBytes { (try? Posix.read(fd, into: $0, display: Self.gcEpochName)) ?? -1 }
        return read == StatCache.epochSize ? bytes : [UInt8](repeating: 0, count: StatCache.epochSize)
    }

    /// Starts a new gc epoch, durably, before gc removes objects: every stat cache written
    /// before it then has its blobs' presence checked again.
    func renewGCEpoch() throws {
        var epoch = [UInt8](repeating: 0, count: StatCache.epochSize)
        for index in epoch.indices { epoch[index] = UInt8.random(in: 0...255) }
        try replaceCacheFile(Self.gcEpochName, with: epoch)
        try Posix.fsync(cacheFD, display: "\(path)/cache")
    }

    /// Writes a new stat cache to a temp file (nil when it cannot: a cache costs time only, so
    /// that is not the seal's failure). Not synced: the caller's batch `syncfs` usually does it.
    func stageStatCache(_ bytes: [UInt8]) -> String? {
        let temp = "cache-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let display = "\(path)/tmp/\(temp)"
        guard let fd = try? Posix.openat(tmpFD, temp, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600, display: display) else { return nil }
        defer { Posix.close(fd) }
        guard (try? Posix.writeAll(fd, bytes, display: display)) != nil else {
            discardStatCache(temp)
            return nil
        }
        return temp
    }

    /// Renames a staged cache over the folder's old one, after making its bytes durable unless a
    /// `syncfs` since it was written already did. The folder is not fsynced: after a crash either
    /// version is a valid cache.
    func publishStatCache(_ temp: String, root: String, durable: Bool) {
        if !durable {
            guard let fd = try? Posix.openat(tmpFD, temp, flags: O_RDONLY | O_NOFOLLOW, display: temp) else { return }
            let synced = fdatasync(fd) == 0
            Posix.close(fd)
            guard synced else { return discardStatCache(temp) }
        }
        let name = StatCache.fileName(root: root)
        if (try? Posix.renameat(tmpFD, temp, cacheFD, name, display: "\(path)/cache/\(name)")) == nil { discardStatCache(temp) }
    }

    func discardStatCache(_ temp: String) {
        _ = unlinkat(tmpFD, temp, 0)
    }

    /// Temp in `tmp/` (gc removes one left by a crash), durable bytes, rename over the old file.
    /// The folder is not fsynced for a stat cache: after a crash either file is a valid cache.
    private func replaceCacheFile(_ name: String, with bytes: [UInt8]) throws {
        let temp = "cache-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let display = "\(path)/tmp/\(temp)"
        let fd = try Posix.openat(tmpFD, temp, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600, display: display)
        do {
            try Posix.writeAll(fd, bytes, display: display)
            if fdatasync(fd) != 0 { throw StoreError.system("fdatasync", path: display) }
            Posix.close(fd)
            try Posix.renameat(tmpFD, temp, cacheFD, name, display: "\(path)/cache/\(name)")
        } catch {
            Posix.close(fd)
            try? Posix.unlinkat(tmpFD, temp, display: display)
            throw error
        }
    }
}
