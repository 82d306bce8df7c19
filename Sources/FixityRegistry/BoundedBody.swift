import AsyncHTTPClient
import FixityCore
import Foundation
import NIOCore
import NIOHTTP1

/// Receives one response without trusting the server about its size: a success body goes to
/// `sink` part by part as it arrives (a layer streams to disk, never whole into memory) or is
/// collected when there is no sink; either way the request is aborted the moment the body
/// passes `limit` bytes, or as soon as a Content-Length announces more. A body of any other
/// status keeps only its first 64 KiB, for the error message, and stops reading there.
final class BoundedBody: HTTPClientResponseDelegate, @unchecked Sendable {
    struct Received: Sendable {
        let status: Int
        let headers: HTTPHeaders
        /// The collected body (success without a sink), else the start of an error body.
        let body: [UInt8]
        /// Bytes of the body received in all.
        let count: Int
    }

    /// The server sent (or announced) more than the limit.
    struct TooLarge: Error { let limit: Int }
    /// An error body passed 64 KiB: reading stopped; what was kept is enough to report it.
    struct ErrorBodyCut: Error { let received: Received }
    /// The sink threw: the original error (a full disk, say) is the one to report.
    struct SinkFailed: Error { let underlying: any Error }

    static let errorBodyLimit = 64 << 10

    private let limit: Int
    private let sink: ((UnsafeRawBufferPointer) throws -> Void)?
    // Parts arrive one after another on the event loop, and the caller reads the result only
    // after the request finished; the lock makes that hand-over explicit.
    private let lock = NSLock()
    private var _state = State()
    private func withState<T>(_ body: (inout State) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&_state)
    }

    private struct State {
        var status = 0
        var headers = HTTPHeaders()
        var body = [UInt8]()
        var count = 0
    }

    init(limit: Int, sink: ((UnsafeRawBufferPointer) throws -> Void)? = nil) {
        self.limit = limit
        self.sink = sink
    }

    private static func isSuccess(_ status: Int) -> Bool { (200..<300).contains(status) }

    func didReceiveHead(task: HTTPClient.Task<Received>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        let status = Int(head.status.code)
        withState {
            $0.status = status
            $0.headers = head.headers
        }
        if Self.isSuccess(status), let announced = head.headers.first(name: "Content-Length").flatMap(Int.init),
            announced > limit
        {
            task.fail(reason: TooLarge(limit: limit))
            return task.eventLoop.makeFailedFuture(TooLarge(limit: limit))
        }
        return task.eventLoop.makeSucceededFuture(())
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Received>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let failure: (any Error)? = withState { state in
            state.count += buffer.readableBytes
            let success = Self.isSuccess(state.status)
            if success && state.count > limit { return TooLarge(limit: limit) }
            if success, let sink {
                do {
                    try buffer.withUnsafeReadableBytes { try sink($0) }
                } catch {
                    return SinkFailed(underlying: error)
                }
            } else {
                let room = (success ? limit : Self.errorBodyLimit) - state.body.count
                if room > 0 { state.body += buffer.readableBytesView.prefix(room) }
                if !success && state.count > Self.errorBodyLimit {
                    return ErrorBodyCut(
                        received: Received(
                            status: state.status, headers: state.headers, body: state.body, count: state.count))
                }
            }
            return nil
        }
        if let failure {
            task.fail(reason: failure)
            return task.eventLoop.makeFailedFuture(failure)
        }
        return task.eventLoop.makeSucceededFuture(())
    }

    func didReceiveError(task: HTTPClient.Task<Received>, _ error: any Error) {}

    func didFinishRequest(task: HTTPClient.Task<Received>) throws -> Received {
        withState { Received(status: $0.status, headers: $0.headers, body: $0.body, count: $0.count) }
    }
}
