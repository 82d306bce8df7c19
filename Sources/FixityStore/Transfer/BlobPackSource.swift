import FixityCore
import Glibc
import Synchronization

/// Blobs of a store written out as a pack (`BlobPack`), in pieces of about `chunkSize` bytes
/// for a network body: what a server sends for a fetch and a client sends for a push. Each blob
/// is re-hashed as it is read; a blob whose bytes no longer match its name throws (an integrity
/// error naming it) before the pack's end marker is written, so the receiver sees a truncated
/// pack, never a wrong blob accepted.
///
/// One consumer calls `next`, one call at a time (from the thread pool); the mutex only lets
/// the consumer hop threads between calls.
package final class BlobPackSource: Sendable {
    private struct Open {
        let digest: Digest
        let fd: Int32
        var hasher = ContentHasher()
        var remaining: UInt64
    }

    private struct State {
        var queue: [Digest]
        var index = 0
        var open: Open?
        var started = false
        var ended = false
        var bytes: UInt64 = 0
    }

    let store: Store
    let chunkSize: Int
    private let state: Mutex<State>

    package init(store: Store, digests: [Digest], chunkSize: Int = 1 << 20) {
        self.store = store
        self.chunkSize = chunkSize
        state = Mutex(State(queue: digests))
    }

    deinit {
        state.withLock { if let open = $0.open { Posix.close(open.fd) } }
    }

    /// Blob bytes sent so far (framing excluded).
    package var blobBytes: UInt64 { state.withLock { $0.bytes } }

    /// The next piece of the pack; nil once the end marker has been returned.
    package func next() throws -> [UInt8]? {
        try state.withLock { state -> [UInt8]? in
            if state.ended { return nil }
            var out = [UInt8]()
            out.reserveCapacity(chunkSize + BlobPack.headerSize)
            if !state.started {
                state.started = true
                out += BlobPack.opening
            }
            while out.count < chunkSize {
                if var open = state.open {
                    let want = Int(min(UInt64(chunkSize - out.count), open.remaining))
                    let start = out.count
                    out.append(contentsOf: repeatElement(0, count: want))
                    let got = try out.withUnsafeMutableBytes { raw in
                        try Posix.read(
                            open.fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[start..<start + want]),
                            display: store.objectPath(open.digest))
                    }
                    guard got > 0 else {
                        throw StoreError(
                            .integrity, "object \(open.digest.short) ended \(open.remaining) bytes early",
                            path: store.objectPath(open.digest))
                    }
                    out.removeLast(want - got)
                    out.withUnsafeBytes {
                        open.hasher.update(UnsafeRawBufferPointer(rebasing: $0[start..<start + got]))
                    }
                    open.remaining -= UInt64(got)
                    state.bytes += UInt64(got)
                    if open.remaining == 0 {
                        Posix.close(open.fd)
                        state.open = nil
                        let actual = open.hasher.finalize()
                        guard actual == open.digest else {
                            throw StoreError(
                                .integrity, "object \(open.digest.short) is corrupt: its bytes hash to \(actual.short)",
                                path: store.objectPath(open.digest))
                        }
                    } else {
                        state.open = open
                    }
                } else if state.index < state.queue.count {
                    let digest = state.queue[state.index]
                    state.index += 1
                    let fd = try store.openObject(digest)
                    let size: UInt64
                    do { size = UInt64(try Posix.fstat(fd, display: store.objectPath(digest)).size) } catch {
                        Posix.close(fd)
                        throw error
                    }
                    out += BlobPack.frameHeader(digest, size: size)
                    if size == 0 {
                        Posix.close(fd)
                        guard digest == ContentHasher().finalize() else {
                            throw StoreError(
                                .integrity, "object \(digest.short) is corrupt: it is empty",
                                path: store.objectPath(digest))
                        }
                    } else {
                        state.open = Open(digest: digest, fd: fd, remaining: size)
                    }
                } else {
                    out += BlobPack.end
                    state.ended = true
                    break
                }
            }
            return out
        }
    }
}
