import FixityCore
import Glibc

/// The files under `STORE/cache/` — the seal stat cache, the gc epoch and the link stamps — and
/// how they are read and replaced (each format is its type's: StatCache, LinkStampFile).
extension Store {
    static let gcEpochName = "gc-epoch"

    /// The current gc epoch: 16 bytes gc replaces before it removes any object. All zeros when
    /// gc never removed one (or the file is unreadable, which only costs presence checks).
    func gcEpoch() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: StatCache.epochSize)
        guard
            let fd = try? Posix.openat(
                cacheFD, Self.gcEpochName, flags: O_RDONLY | O_NOFOLLOW, display: Self.gcEpochName)
        else { return bytes }
        defer { Posix.close(fd) }
        let read = bytes.withUnsafeMutableBytes { (try? Posix.read(fd, into: $0, display: Self.gcEpochName)) ?? -1 }
        return read == StatCache.epochSize ? bytes : [UInt8](repeating: 0, count: StatCache.epochSize)
    }

    /// Starts a new gc epoch, durably, before gc removes objects: every stat cache written
    /// before it then has its blobs' presence checked again.
    func renewGCEpoch() throws {
        var epoch = [UInt8](repeating: 0, count: StatCache.epochSize)
        for index in epoch.indices { epoch[index] = UInt8.random(in: 0...255) }
        let temp = try stageCacheFile(epoch)
        try publishCacheFile(temp, as: Self.gcEpochName, durable: false)
        try Posix.fsync(cacheFD, display: "\(path)/cache")
    }

    /// Writes a new stat cache to a temp file (nil when it cannot: a cache costs time only, so
    /// that is not the seal's failure). Not synced: the caller's batch `syncfs` usually does it.
    func stageStatCache(_ bytes: [UInt8]) -> String? {
        try? stageCacheFile(bytes)
    }

    /// Renames a staged stat cache over the folder's old one (see `publishCacheFile`); a failure
    /// leaves the old cache, which costs time only.
    func publishStatCache(_ temp: String, root: String, durable: Bool) {
        try? publishCacheFile(temp, as: StatCache.fileName(root: root), durable: durable)
    }

    func discardStatCache(_ temp: String) {
        _ = unlinkat(tmpFD, temp, 0)
    }

    /// The whole of `cache/<name>`, or nil when it is missing, not a regular file, larger than
    /// `maxSize` or unreadable: every cache file is optional and checks its own integrity.
    func readCacheFile(_ name: String, maxSize: Int = 1 << 32) -> [UInt8]? {
        guard let fd = try? Posix.openat(cacheFD, name, flags: O_RDONLY | O_NOFOLLOW, display: name) else { return nil }
        defer { Posix.close(fd) }
        guard let st = try? Posix.fstat(fd, display: name), st.isRegularFile, st.size < maxSize else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(st.size))
        let read = bytes.withUnsafeMutableBytes { (try? Posix.read(fd, into: $0, display: name)) ?? -1 }
        return read == bytes.count ? bytes : nil
    }

    /// A file for `cache/`, written to a temp name in `tmp/` (gc removes one left by a crash).
    func stageCacheFile(_ bytes: [UInt8]) throws -> String {
        let temp = "cache-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let display = "\(path)/tmp/\(temp)"
        let fd = try Posix.openat(
            tmpFD, temp, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600, display: display)
        defer { Posix.close(fd) }
        do {
            try Posix.writeAll(fd, bytes, display: display)
        } catch {
            discardStatCache(temp)
            throw error
        }
        return temp
    }

    /// Renames a staged file to `cache/<name>` after making its bytes durable, unless `durable`
    /// says they need no sync here (a `syncfs` since it was written did, or the file is one that
    /// detects its own tearing and costs only time when lost, as the link stamps). The folder is not fsynced here: for the stat
    /// cache either version is valid after a crash; the gc epoch's caller fsyncs it.
    func publishCacheFile(_ temp: String, as name: String, durable: Bool) throws {
        let display = "\(path)/tmp/\(temp)"
        do {
            if !durable {
                let fd = try Posix.openat(tmpFD, temp, flags: O_RDONLY | O_NOFOLLOW, display: display)
                defer { Posix.close(fd) }
                if fdatasync(fd) != 0 { throw StoreError.system("fdatasync", path: display) }
            }
            try Posix.renameat(tmpFD, temp, cacheFD, name, display: "\(path)/cache/\(name)")
        } catch {
            discardStatCache(temp)
            throw error
        }
    }
}
