import FixityApp
import FixityStore
import NIOCore

/// A `BlobPackSource` read one piece ahead on the thread pool: while one piece goes out on the
/// connection the next is already being read and re-hashed, so the disk and the network work at
/// the same time. Used by both ends: a client pushing, a server answering a fetch.
struct PackReadAhead {
    let source: BlobPackSource
    private var ahead: Task<[UInt8]?, any Error>?

    init(_ source: BlobPackSource) { self.source = source }

    /// The next piece of the pack; nil after its end marker.
    mutating func next() async throws -> ByteBuffer? {
        let piece = try await (ahead ?? read()).value
        ahead = piece == nil ? nil : read()
        return piece.map { ByteBuffer(bytes: $0) }
    }

    private func read() -> Task<[UInt8]?, any Error> {
        let source = source
        return Task { try await BlockingWork.run { try source.next() } }
    }
}
