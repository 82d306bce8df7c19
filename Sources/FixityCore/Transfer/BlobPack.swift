/// The stream many blobs travel in, in one HTTP body, in either direction (docs/server.md,
/// "Blob packs"):
///
///     "FXBLOBS1"                          8 bytes, once
///     digest (32 raw bytes) · size (8 bytes, big-endian) · size bytes     per blob
///     40 zero bytes                       the end
///
/// The explicit end is what tells a complete pack from a connection that dropped between two
/// blobs: a pack without it is truncated, and nothing of it is kept. A digest of 32 zero bytes
/// never names a blob (it is no SHA-256 anyone can find an input for), so the end cannot be
/// mistaken for a frame.
public enum BlobPack {
    public static let magic: [UInt8] = Array("FXBLOBS1".utf8)
    /// The HTTP media type of a pack body.
    public static let mediaType = "application/vnd.fixity.blobs.v1"
    public static let headerSize = 40

    /// The bytes that open a pack.
    public static var opening: [UInt8] { magic }

    /// A frame's header: the digest and the size of the bytes that follow.
    public static func frameHeader(_ digest: Digest, size: UInt64) -> [UInt8] {
        var header = [UInt8]()
        header.reserveCapacity(headerSize)
        digest.append(to: &header)
        for shift in stride(from: 56, through: 0, by: -8) {
            header.append(UInt8(truncatingIfNeeded: size >> UInt64(shift)))
        }
        return header
    }

    /// The bytes that close a pack.
    public static var end: [UInt8] { [UInt8](repeating: 0, count: headerSize) }
}

/// What a pack reader found in the bytes it was fed, in order.
public enum BlobPackEvent: Equatable, Sendable {
    /// A blob begins: its claimed digest and size (the bytes still have to prove the digest).
    case begin(Digest, size: UInt64)
    /// Some of the current blob's bytes.
    case bytes([UInt8])
    /// The current blob's bytes are complete.
    case finish(Digest)
    /// The pack's end marker: nothing may follow.
    case end
}

/// A malformed pack; the message says where (the byte offset) and what.
public struct BlobPackError: FixityError, Sendable, Equatable {
    public let message: String
    public var category: ErrorCategory { .badInput }
    init(_ message: String) { self.message = message }
}

/// Reads a pack fed in arbitrary pieces (network buffers): events come out as soon as their bytes
/// are in, so a blob of any size streams through a bounded buffer. Sizes are checked against
/// `maximumBlobSize` before a byte of the blob is accepted.
public struct BlobPackReader: Sendable {
    private enum State: Sendable {
        case magic
        case header
        case body(Digest, remaining: UInt64)
        case ended
    }

    public let maximumBlobSize: UInt64
    private var state = State.magic
    private var pending: [UInt8] = []
    /// Bytes consumed so far: where an error is, for the message.
    public private(set) var offset: UInt64 = 0
    public private(set) var blobs = 0

    public init(maximumBlobSize: UInt64) { self.maximumBlobSize = maximumBlobSize }

    public var isComplete: Bool { if case .ended = state { true } else { false } }

    /// Consumes `input`, appending what it completes to `events`.
    public mutating func feed(_ input: UnsafeRawBufferPointer, into events: inout [BlobPackEvent]) throws(BlobPackError)
    {
        var rest = input[...]
        while !rest.isEmpty {
            switch state {
            case .ended:
                throw BlobPackError("blob pack: \(rest.count) bytes after its end marker (offset \(offset))")
            case .magic, .header:
                let need = (isMagic ? BlobPack.magic.count : BlobPack.headerSize) - pending.count
                let take = min(need, rest.count)
                pending.append(contentsOf: rest.prefix(take))
                rest = rest.dropFirst(take)
                offset += UInt64(take)
                if take == need { try completeFixedPart(into: &events) }
            case .body(let digest, let remaining):
                let take = Int(min(remaining, UInt64(rest.count)))
                events.append(.bytes(Array(rest.prefix(take))))
                rest = rest.dropFirst(take)
                offset += UInt64(take)
                if UInt64(take) == remaining {
                    events.append(.finish(digest))
                    state = .header
                } else {
                    state = .body(digest, remaining: remaining - UInt64(take))
                }
            }
        }
    }

    /// The input is over: anything but a complete pack is truncated.
    public func finish() throws(BlobPackError) {
        switch state {
        case .ended: return
        case .magic: throw BlobPackError("blob pack: truncated in its opening (\(offset) bytes)")
        case .header:
            throw BlobPackError("blob pack: truncated after \(blobs) blobs (offset \(offset)): no end marker")
        case .body(let digest, let remaining):
            throw BlobPackError("blob pack: truncated inside blob \(digest.short), \(remaining) bytes short")
        }
    }

    private var isMagic: Bool { if case .magic = state { true } else { false } }

    private mutating func completeFixedPart(into events: inout [BlobPackEvent]) throws(BlobPackError) {
        defer { pending.removeAll(keepingCapacity: true) }
        if isMagic {
            guard pending == BlobPack.magic else { throw BlobPackError("blob pack: does not start with FXBLOBS1") }
            state = .header
            return
        }
        if pending.allSatisfy({ $0 == 0 }) {
            state = .ended
            events.append(.end)
            return
        }
        let digest = Digest(bytes: pending[0..<32])
        var size: UInt64 = 0
        for byte in pending[32..<40] { size = size << 8 | UInt64(byte) }
        guard size <= maximumBlobSize else {
            throw BlobPackError(
                "blob pack: blob \(digest.short) claims \(size) bytes; this server takes blobs up to \(maximumBlobSize)"
            )
        }
        blobs += 1
        events.append(.begin(digest, size: size))
        if size == 0 {
            events.append(.finish(digest))
            state = .header
        } else {
            state = .body(digest, remaining: size)
        }
    }
}
