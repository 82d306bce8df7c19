import FixityApp
import FixityCore
import FixityStore
import NIOCore

/// Bytes of a blob pack, as they come off a connection, parsed on the spot and handed to a
/// `BlobIntake` on the thread pool in batches of about `batchBytes` — with one batch being
/// hashed and written while the next arrives, so the network and the disk work at the same
/// time instead of taking turns. Used by both ends: a server receiving a push, a client
/// receiving a pull.
struct PackFeeder {
    /// One hop to the thread pool per network buffer would cost more than the write.
    static let batchBytes = 1 << 20

    let intake: BlobIntake
    private var reader: BlobPackReader
    private var events: [BlobPackEvent] = []
    private var pending = 0
    private var inFlight: Task<Void, any Error>?

    init(into intake: BlobIntake, maximumBlobSize: UInt64) {
        self.intake = intake
        reader = BlobPackReader(maximumBlobSize: maximumBlobSize)
    }

    /// Pack bytes read so far.
    var offset: UInt64 { reader.offset }

    mutating func feed(_ buffer: ByteBuffer) async throws {
        try buffer.withUnsafeReadableBytes { try reader.feed($0, into: &events) }
        pending += buffer.readableBytes
        if pending >= Self.batchBytes { try await handOff() }
    }

    /// The pack must be whole: its end marker read, every blob applied.
    mutating func finish() async throws {
        try reader.finish()
        try await handOff()
        try await inFlight?.value
        inFlight = nil
    }

    /// Waits for the batch in flight, whatever became of it (before the intake is abandoned).
    mutating func stop() async {
        _ = try? await inFlight?.value
        inFlight = nil
    }

    private mutating func handOff() async throws {
        let batch = events
        events.removeAll(keepingCapacity: true)
        pending = 0
        // The intake takes one batch at a time, in order: the previous one must be done.
        try await inFlight?.value
        let intake = intake
        inFlight = Task { try await BlockingWork.run { try intake.apply(batch) } }
    }
}
