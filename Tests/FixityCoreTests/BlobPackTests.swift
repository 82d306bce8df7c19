import FixityCore
import Testing

/// The blob pack format (docs/server.md): what a reader makes of a pack fed in any pieces, and
/// every way a pack can be short or malformed.
@Suite struct BlobPackTests {
    static let blobs: [[UInt8]] = [Array("hello\n".utf8), [], Array(repeating: 0xAB, count: 70_000)]

    static func pack(_ blobs: [[UInt8]], end: Bool = true) -> [UInt8] {
        var bytes = BlobPack.opening
        for blob in blobs { bytes += BlobPack.frameHeader(Digest.of(blob), size: UInt64(blob.count)) + blob }
        return end ? bytes + BlobPack.end : bytes
    }

    static func read(_ bytes: [UInt8], piece: Int, limit: UInt64 = 1 << 20) throws -> [BlobPackEvent] {
        var reader = BlobPackReader(maximumBlobSize: limit)
        var events: [BlobPackEvent] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + piece)
            try bytes[offset..<end].withUnsafeBytes { try reader.feed($0, into: &events) }
            offset = end
        }
        try reader.finish()
        return events
    }

    @Test(arguments: [1, 7, 40, 41, 4096, 1 << 20])
    func everyBlobComesOutWholeWhateverThePieces(piece: Int) throws {
        let events = try Self.read(Self.pack(Self.blobs), piece: piece)
        var blobs: [[UInt8]] = []
        var current: [UInt8]?
        for event in events {
            switch event {
            case .begin(let digest, let size):
                #expect(current == nil)
                #expect(Self.blobs.contains { Digest.of($0) == digest && UInt64($0.count) == size })
                current = []
            case .bytes(let bytes): current! += bytes
            case .finish(let digest):
                #expect(Digest.of(current!) == digest)
                blobs.append(current!)
                current = nil
            case .end: #expect(current == nil)
            }
        }
        #expect(blobs == Self.blobs && events.last == .end)
    }

    @Test func shortAndMalformedPacksAreRefusedSayingWhere() throws {
        let whole = Self.pack(Self.blobs)
        func refusal(_ bytes: [UInt8], limit: UInt64 = 1 << 20) -> String? {
            do {
                _ = try Self.read(bytes, piece: 1000, limit: limit)
                return nil
            } catch {
                return (error as? BlobPackError)?.message ?? "\(error)"
            }
        }
        #expect(refusal(Array(whole.prefix(5)))?.contains("truncated in its opening") == true)
        #expect(refusal(Self.pack(Self.blobs, end: false))?.contains("after 3 blobs") == true)
        #expect(refusal(Array(whole.dropLast(41)))?.contains("bytes short") == true)
        #expect(refusal(whole + [0])?.contains("after its end marker") == true)
        #expect(refusal(Array("FXBLOBS2".utf8) + whole.dropFirst(8))?.contains("does not start with FXBLOBS1") == true)
        #expect(refusal(whole, limit: 1000)?.contains("claims 70000 bytes") == true)
        #expect(refusal(BlobPack.opening + BlobPack.end) == nil)
    }
}
