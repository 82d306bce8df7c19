import FixityApp
import FixityCore
import FixityStore
import Hummingbird

/// Blobs: which of these are missing, many up in one streamed pack, many down in one.
enum BlobRoutes {
    /// Received bytes are handed to the thread pool in batches of about this much: one hop per
    /// network buffer would cost more than the write.
    static let batchBytes = 1 << 20

    static func add(to v1: RouterGroup<ServerContext>, plane: any ControlPlane, metrics: ServerMetrics) {
        v1.post("blobs/missing") { request, context -> Response in
            try context.require(.releaseRead)
            let list = try await JSONBodies.decode(DigestList.self, request, context)
            let missing = try await plane.missingBlobs(try JSONBodies.digests(list.digests))
            return try JSONBodies.response(DigestList(digests: missing.map(\.description)))
        }

        v1.post("blobs") { request, context -> Response in
            try context.require(.releasePush)
            let report = try await receive(request.body, into: plane.blobStore)
            metrics.bytesIn.increment(by: Int64(report.bytes))
            metrics.blobsStored.increment(by: Int64(report.stored))
            try await plane.recordBlobs(report, keyID: context.keyID)
            return try JSONBodies.response(
                ReceiveAnswer(stored: report.stored, present: report.present, bytes: report.bytes))
        }

        v1.post("blobs/fetch") { request, context -> Response in
            try context.require(.releaseRead)
            let list = try await JSONBodies.decode(DigestList.self, request, context)
            let digests = try JSONBodies.digests(list.digests)
            let missing = try await plane.missingBlobs(digests)
            guard missing.isEmpty else {
                throw APIFailure.notFound(
                    "\(missing.count) blob(s) not on this server: \(missing.prefix(3).map(\.short).joined(separator: ", "))"
                )
            }
            let source = BlobPackSource(store: plane.blobStore, digests: digests)
            return Response(
                status: .ok, headers: [.contentType: BlobPack.mediaType],
                body: ResponseBody { writer in
                    while let chunk = try await BlockingWork.run({ try source.next() }) {
                        try await writer.write(ByteBuffer(bytes: chunk))
                    }
                    metrics.bytesOut.increment(by: Int64(source.blobBytes))
                    try await writer.finish(nil)
                })
        }
    }

    /// Reads a pack off the request body into a `BlobIntake`; publishes only a complete pack
    /// whose every blob matched its digest. A dropped connection or a bad blob leaves nothing.
    static func receive(_ body: RequestBody, into store: Store) async throws -> BlobIntake.Report {
        let intake = try await BlockingWork.run { try BlobIntake(store: store) }
        do {
            var reader = BlobPackReader(maximumBlobSize: ServerLimits.maximumBlob)
            var events: [BlobPackEvent] = []
            var pending = 0
            var iterator = body.makeAsyncIterator()
            while let buffer = try await nextPiece(&iterator, reader) {
                try buffer.withUnsafeReadableBytes { try reader.feed($0, into: &events) }
                pending += buffer.readableBytes
                if pending >= batchBytes {
                    let batch = events
                    events.removeAll()
                    pending = 0
                    try await BlockingWork.run { try intake.apply(batch) }
                }
            }
            try reader.finish()
            let last = events
            return try await BlockingWork.run {
                try intake.apply(last)
                return try intake.commit()
            }
        } catch {
            try? await BlockingWork.run { intake.abandon() }
            throw error
        }
    }

    /// The next piece of an upload; a connection that fails or closes mid-pack is the client's
    /// problem (400), not a server fault.
    private static func nextPiece(_ iterator: inout RequestBody.AsyncIterator, _ reader: BlobPackReader) async throws
        -> ByteBuffer?
    {
        do {
            return try await iterator.next()
        } catch {
            throw APIFailure.badInput(
                "the upload broke off after \(reader.offset) bytes of its pack (\(error)); nothing was stored")
        }
    }

    struct ReceiveAnswer: Codable {
        let stored: Int
        let present: Int
        let bytes: UInt64
    }
}
