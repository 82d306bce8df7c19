import FixityApp
import FixityCore
import FixityStore
import Hummingbird

/// Blobs: which of these are missing, many up in one streamed pack, many down in one.
enum BlobRoutes {
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
                    var pieces = PackReadAhead(source)
                    while let piece = try await pieces.next() { try await writer.write(piece) }
                    metrics.bytesOut.increment(by: Int64(source.blobBytes))
                    try await writer.finish(nil)
                })
        }
    }

    /// Reads a pack off the request body into a `BlobIntake`; publishes only a complete pack
    /// whose every blob matched its digest. A dropped connection or a bad blob leaves nothing.
    static func receive(_ body: RequestBody, into store: Store) async throws -> BlobIntake.Report {
        let intake = try await BlockingWork.run { try BlobIntake(store: store) }
        var feeder = PackFeeder(into: intake, maximumBlobSize: ServerLimits.maximumBlob)
        do {
            var iterator = body.makeAsyncIterator()
            while let buffer = try await nextPiece(&iterator, feeder.offset) {
                try await feeder.feed(buffer)
            }
            try await feeder.finish()
            return try await BlockingWork.run { try intake.commit() }
        } catch {
            await feeder.stop()
            try? await BlockingWork.run { intake.abandon() }
            throw error
        }
    }

    /// The next piece of an upload; a connection that fails or closes mid-pack is the client's
    /// problem (400), not a server fault.
    private static func nextPiece(_ iterator: inout RequestBody.AsyncIterator, _ offset: UInt64) async throws
        -> ByteBuffer?
    {
        do {
            return try await iterator.next()
        } catch {
            throw APIFailure.badInput(
                "the upload broke off after \(offset) bytes of its pack (\(error)); nothing was stored")
        }
    }

    struct ReceiveAnswer: Codable {
        let stored: Int
        let present: Int
        let bytes: UInt64
    }
}
