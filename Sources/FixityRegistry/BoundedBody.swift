import AsyncHTTPClient
import FixityCore
import NIOCore
import NIOHTTP1

/// Receives one response without trusting the server about its size: a success body goes to
/// `sink` part by part as it arrives (a layer streams to disk, never whole into memory) or is
/// collected when there is no sink; either way reading stops the moment the body passes
/// `limit` bytes, or as soon as a Content-Length announces more. A body of any other status
/// keeps only its first 64 KiB, for the error message, and stops reading there.
enum BoundedBody {
    struct Received: Sendable {
        let status: Int
        let headers: HTTPHeaders
        /// The collected body (success without a sink), else the start of an error body.
        let body: [UInt8]
        /// Bytes of the body received in all (of an error body: until reading stopped).
        let count: Int
    }

    /// The server sent (or announced) more than the limit.
    struct TooLarge: Error { let limit: Int }
    /// The sink threw: the original error (a full disk, say) is the one to report.
    struct SinkFailed: Error { let underlying: any Error }

    static let errorBodyLimit = 64 << 10

    static func receive(
        _ response: HTTPClientResponse, limit: Int, sink: ((UnsafeRawBufferPointer) throws -> Void)? = nil
    ) async throws -> Received {
        let status = Int(response.status.code)
        let success = (200..<300).contains(status)
        if success, let announced = response.headers.first(name: "Content-Length").flatMap(Int.init), announced > limit
        {
            throw TooLarge(limit: limit)
        }
        var body = [UInt8]()
        var count = 0
        for try await buffer in response.body {
            count += buffer.readableBytes
            if success && count > limit { throw TooLarge(limit: limit) }
            if success, let sink {
                do {
                    try buffer.withUnsafeReadableBytes { try sink($0) }
                } catch {
                    throw SinkFailed(underlying: error)
                }
                continue
            }
            let room = (success ? limit : errorBodyLimit) - body.count
            if room > 0 { body += buffer.readableBytesView.prefix(room) }
            // Enough of an error body to report it: the rest is not read (the connection closes).
            if !success && count > errorBodyLimit { break }
        }
        return Received(status: status, headers: response.headers, body: body, count: count)
    }
}
