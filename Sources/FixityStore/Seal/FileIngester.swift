import FixityCore
import Glibc
import Synchronization

/// Reads one file of a tree being sealed, hashes it and, when the store lacks its blob, writes
/// the blob to a temp object in the same pass. Detects a file that changes while being read
/// (size, mtime, ctime or inode differ between the walk, the open and the end of the read).
final class FileIngester: Sendable {
    /// Files up to this size are read whole into the worker's buffer, hashed, and written only
    /// if new, so an unchanged tree without a stat cache writes nothing. Larger files stream into
    /// a temp object while hashing.
    static let bufferSize = IOBuffer.size
    /// Large files start writeback every this many bytes, so the disk is busy while we hash.
    static let writebackChunk: Int64 = 8 << 20

    let batch: ObjectBatch
    let rootFD: Int32
    let rootPath: String
    let progress: WorkProgress?
    let newBlobs = Atomic<Int>(0)
    let newBytes = Atomic<Int>(0)

    init(batch: ObjectBatch, rootFD: Int32, rootPath: String, progress: WorkProgress?) {
        self.batch = batch
        self.rootFD = rootFD
        self.rootPath = rootPath
        self.progress = progress
    }

    func ingest(_ entry: WalkedEntry, buffer: UnsafeMutableRawBufferPointer, lane: Int) throws -> Digest {
        let display = "\(rootPath)/\(entry.path)"
        let fd: Int32
        do {
            fd = try Posix.openat(rootFD, entry.path, flags: O_RDONLY | O_NOFOLLOW | O_NOCTTY, display: display)
        } catch let error as StoreError {
            throw StoreError(
                .badInput,
                "\(display): cannot be read (\(error.errno.map { String(cString: strerror($0)) } ?? error.message))",
                path: display, errno: error.errno)
        }
        defer { Posix.close(fd) }
        let before = try Posix.fstat(fd, display: display)
        guard before.sameContentSignature(as: entry.stat) else { throw changed(display) }

        let digest: Digest
        if entry.stat.size < Int64(buffer.count) {
            digest = try ingestSmall(fd, size: Int(entry.stat.size), buffer: buffer, lane: lane, display: display)
        } else {
            digest = try ingestStreaming(fd, size: entry.stat.size, buffer: buffer, lane: lane, display: display)
        }
        guard try Posix.fstat(fd, display: display).sameContentSignature(as: before) else { throw changed(display) }
        return digest
    }

    private func ingestSmall(_ fd: Int32, size: Int, buffer: UnsafeMutableRawBufferPointer, lane: Int, display: String)
        throws -> Digest
    {
        // Ask for one byte more than expected: getting it means the file grew.
        let n = try Posix.read(
            fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(size + 1)]), display: display)
        guard n == size else { throw changed(display) }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
        var hasher = ContentHasher()
        hasher.update(bytes)
        let digest = hasher.finalize()
        progress?.add(files: 1, bytes: n)
        if batch.store.hasObject(digest) || !batch.claim(digest) { return digest }
        try batch.stageNew(bytes, as: digest, lane: lane)
        count(newBytes: n)
        return digest
    }

    private func ingestStreaming(
        _ fd: Int32, size: Int64, buffer: UnsafeMutableRawBufferPointer, lane: Int, display: String
    ) throws -> Digest {
        let tmp = try batch.createTemp(lane: lane)
        var hasher = ContentHasher()
        var total: Int64 = 0
        var flushed: Int64 = 0
        do {
            while true {
                let n = try Posix.read(fd, into: buffer, display: display)
                if n == 0 { break }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                hasher.update(chunk)
                try Posix.writeAll(tmp.fd, chunk, display: tmp.display)
                total += Int64(n)
                progress?.add(bytes: n)
                if total - flushed >= Self.writebackChunk {
                    Posix.startWriteback(tmp.fd, offset: flushed, length: total - flushed)
                    flushed = total
                }
                if total > size { throw changed(display) }
            }
            guard total == size else { throw changed(display) }
        } catch {
            Posix.close(tmp.fd)
            batch.discard(tmp.name)
            throw error
        }
        Posix.startWriteback(tmp.fd)
        Posix.close(tmp.fd)
        progress?.add(files: 1, bytes: 0)
        let digest = hasher.finalize()
        if batch.store.hasObject(digest) || !batch.claim(digest) {
            batch.discard(tmp.name)
        } else {
            batch.stage(tmp.name, as: digest)
            count(newBytes: Int(total))
        }
        return digest
    }

    private func count(newBytes bytes: Int) {
        newBlobs.add(1, ordering: .relaxed)
        newBytes.add(bytes, ordering: .relaxed)
    }

    private func changed(_ display: String) -> StoreError {
        StoreError(
            .badInput,
            "\(display): changed while being sealed (size, time or inode differ before and after reading); seal a tree nothing is writing to",
            path: display)
    }
}
