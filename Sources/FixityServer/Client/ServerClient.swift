import AsyncHTTPClient
import FixityApp
import FixityCore
import FixityStore
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// A failure talking to a server. When the server answered with its error document, the
/// category and message are the server's (so `fixity push` exits 2 with what the server said);
/// a transport failure is `io`.
package struct ServerClientError: FixityError, Sendable {
    package let category: ErrorCategory
    package let message: String
    /// The HTTP status, when the server answered.
    package let status: Int?
}

/// The CLI's side of the API: one HTTP client for the length of a command, the key on every
/// request. Plain HTTP is allowed to a loopback server only: a key must not cross a network in
/// clear text.
package final class ServerClient: Sendable {
    /// How requests prove who sends them: a person's or pipeline's API key, or an enrolled
    /// host's signature (RFC 9421, docs/agent.md) on each request.
    package enum Credential: Sendable {
        case apiKey(String)
        case host(SigningKey)
    }

    package let base: String
    private let credential: Credential
    private let client: HTTPClient
    /// Set once the user was told their key expires soon (one warning per command).
    private let warned = Mutex(false)
    /// A key that expires within this many seconds gets a warning on stderr.
    static let expiryWarning: TimeInterval = 14 * 86400
    /// JSON answers are at most this.
    static let documentLimit = 64 << 20

    /// Runs `body` with a client for `url`, then shuts its connections down — also when `body`
    /// throws.
    package static func session<T: Sendable>(url: String, key: String, _ body: (ServerClient) async throws -> T)
        async throws -> T
    {
        try await session(url: url, credential: .apiKey(key), body)
    }

    package static func session<T: Sendable>(
        url: String, credential: Credential, readTimeout: Int64 = 300, _ body: (ServerClient) async throws -> T
    ) async throws -> T {
        let client = try ServerClient(url: url, credential: credential, readTimeout: readTimeout)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(client))
        } catch {
            result = .failure(error)
        }
        try? await client.client.shutdown()
        return try result.get()
    }

    private init(url: String, credential: Credential, readTimeout: Int64) throws {
        var base = url
        while base.hasSuffix("/") { base.removeLast() }
        guard let parsed = URL(string: base), let scheme = parsed.scheme, let host = parsed.host,
            scheme == "http" || scheme == "https", parsed.path.isEmpty
        else {
            throw ServerClientError(
                category: .badInput, message: "--server \(url): expected http(s)://HOST[:PORT]", status: nil)
        }
        // A host's signature is no secret and everything an agent is answered it checks itself
        // (policy signatures, blob digests), so an agent may use plain HTTP on a private network.
        if case .apiKey(let key) = credential {
            if scheme == "http" && !(ServerSettings.isLoopback(host) || host == "[::1]") {
                throw ServerClientError(
                    category: .badInput,
                    message:
                        "--server \(url): plain HTTP only to a loopback server (the API key would cross the network in clear text); use https://",
                    status: nil)
            }
            _ = try APIKeySecret(presented: key)
        }
        self.base = base
        self.credential = credential
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(readTimeout))
        // A refused connection is an answer: AsyncHTTPClient would otherwise retry it until the
        // connect timeout, so a server that is down cost every command 10 s. Callers that retry
        // (the agent) do it on their own schedule.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// A request with a JSON body (or none), answered with a JSON document.
    package func document<Answer: Decodable>(
        _ method: HTTPMethod, _ path: String, body: (some Encodable & Sendable)? = String?.none,
        as type: Answer.Type = Answer.self
    ) async throws -> Answer {
        let bytes = try body.map { Array(try JSONStyle.compact.encoder().encode($0)) }
        var request = makeRequest(method, path, body: bytes ?? [])
        if let bytes {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: bytes))
        }
        let response = try await execute(request, method, path)
        return try decode(try await collect(response, method, path), method, path, status: Int(response.status.code))
    }

    private func decode<Answer: Decodable>(_ bytes: [UInt8], _ method: HTTPMethod, _ path: String, status: Int) throws
        -> Answer
    {
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(bytes))
        } catch {
            throw ServerClientError(
                category: .badInput,
                message: "\(base): \(method) \(path) answered a document this client cannot read: \(error)",
                status: status)
        }
    }

    /// A GET answered with text (a signed note).
    package func text(_ method: HTTPMethod, _ path: String) async throws -> String {
        let response = try await execute(makeRequest(method, path), method, path)
        return String(decoding: try await collect(response, method, path), as: UTF8.self)
    }

    /// A request whose body is `bytes` as they are (a signed document), answered with JSON.
    package func upload<Answer: Decodable>(
        _ method: HTTPMethod, _ path: String, bytes: [UInt8], as type: Answer.Type = Answer.self
    ) async throws -> Answer {
        var request = makeRequest(method, path, body: bytes)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let response = try await execute(request, method, path)
        return try decode(try await collect(response, method, path), method, path, status: Int(response.status.code))
    }

    /// Streams a pack of `source`'s blobs up (`POST /v1/blobs`).
    package func uploadPack(_ source: BlobPackSource) async throws -> PackReceipt {
        var request: HTTPClientRequest
        if case .host = credential {
            // A host signs the body's digest, so its pack is built first (bounded by the
            // server's document limit: a host uploads only what a window changed).
            var bytes = [UInt8]()
            for try await chunk in PackChunks(source: source) {
                bytes += chunk.readableBytesView
                guard bytes.count <= ServerLimits.maximumDocument else {
                    throw ServerClientError(
                        category: .badInput,
                        message: "\(base): a host uploads at most \(ServerLimits.maximumDocument) bytes per pack",
                        status: nil)
                }
            }
            request = makeRequest(.POST, "/v1/blobs", body: bytes)
            request.body = .bytes(ByteBuffer(bytes: bytes))
        } else {
            request = makeRequest(.POST, "/v1/blobs")
            request.body = .stream(PackChunks(source: source), length: .unknown)
        }
        request.headers.add(name: "Content-Type", value: BlobPack.mediaType)
        let response = try await execute(request, .POST, "/v1/blobs")
        let bytes = try await collect(response, .POST, "/v1/blobs")
        return try JSONDecoder().decode(PackReceipt.self, from: Data(bytes))
    }

    /// Downloads `digests` as one pack (`POST /v1/blobs/fetch`) into `intake`; every blob is
    /// verified against its digest as it arrives, and a pack cut short is refused whole.
    package func fetchPack(_ digests: [Digest], into intake: BlobIntake) async throws {
        let path = "/v1/blobs/fetch"
        let body = Array(try JSONStyle.compact.encoder().encode(["digests": digests.map(\.description)]))
        var request = makeRequest(.POST, path, body: body)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await execute(request, .POST, path)
        guard response.status == .ok else { _ = try await collect(response, .POST, path); return }
        var feeder = PackFeeder(into: intake, maximumBlobSize: .max)
        do {
            for try await buffer in response.body { try await feeder.feed(buffer) }
            try await feeder.finish()
        } catch let error as any FixityError {
            await feeder.stop()
            throw error
        } catch {
            await feeder.stop()
            throw ServerClientError(
                category: .io, message: "\(base): \(path): the download failed: \(TransportFailure.describe(error))",
                status: nil)
        }
    }

    // MARK: plumbing

    /// A request to `path` (with its query, if any) carrying the credential: the key, or the
    /// host's signature over method, path, query and `body`'s digest.
    private func makeRequest(_ method: HTTPMethod, _ path: String, body: [UInt8] = []) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "User-Agent", value: "fixity")
        switch credential {
        case .apiKey(let key):
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
        case .host(let key):
            let parts = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let target = MessageSignature.Target(
                method: method.rawValue, path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : nil,
                body: body)
            let signed = MessageSignature.sign(target, with: key, created: Int64(Date().timeIntervalSince1970))
            request.headers.add(name: "Content-Digest", value: target.contentDigest)
            request.headers.add(name: "Signature-Input", value: signed.signatureInput)
            request.headers.add(name: "Signature", value: signed.signature)
        }
        return request
    }

    private func execute(_ request: HTTPClientRequest, _ method: HTTPMethod, _ path: String) async throws
        -> HTTPClientResponse
    {
        do {
            let response = try await client.execute(request, timeout: .hours(6))
            warnIfExpiring(response.headers.first(name: "Fixity-Key-Expires"))
            return response
        } catch let error as any FixityError {
            throw error
        } catch {
            throw ServerClientError(
                category: .io, message: "\(base): \(method) \(path): \(TransportFailure.describe(error))", status: nil)
        }
    }

    private func warnIfExpiring(_ header: String?) {
        guard let header, let expires = Instant(rfc3339: header)?.date,
            expires.timeIntervalSinceNow < Self.expiryWarning,
            warned.withLock({
                let first = !$0; $0 = true; return first
            })
        else { return }
        let left = max(0, Int(expires.timeIntervalSinceNow))
        let within =
            left >= 2 * 86400
            ? "\(left / 86400) days" : left >= 2 * 3600 ? "\(left / 3600) hours" : "\(max(1, left / 60)) min"
        StandardStream.error.write(
            "fixity: warning: this API key expires at \(header) (in \(within)); rotate it (fixity keys rotate)\n")
    }

    /// The body of a 2xx answer (bounded), or the server's error as a `ServerClientError`.
    private func collect(_ response: HTTPClientResponse, _ method: HTTPMethod, _ path: String) async throws -> [UInt8] {
        let status = Int(response.status.code)
        var bytes = [UInt8]()
        do {
            for try await buffer in response.body {
                bytes += buffer.readableBytesView
                guard bytes.count <= Self.documentLimit else {
                    throw ServerClientError(
                        category: .badInput,
                        message: "\(base): \(method) \(path) answered more than \(Self.documentLimit) bytes",
                        status: status)
                }
            }
        } catch let error as ServerClientError {
            throw error
        } catch {
            throw ServerClientError(
                category: .io,
                message: "\(base): \(method) \(path): reading the answer failed: \(TransportFailure.describe(error))",
                status: status)
        }
        guard (200..<300).contains(status) else {
            struct Document: Decodable {
                struct Inner: Decodable {
                    let category: String
                    let message: String
                }
                let error: Inner
            }
            if let document = try? JSONDecoder().decode(Document.self, from: Data(bytes)) {
                throw ServerClientError(
                    category: ErrorCategory(rawValue: document.error.category) ?? .internal,
                    message: "server: \(document.error.message)", status: status)
            }
            throw ServerClientError(
                category: status == 401 || status == 403 ? .unauthorized : .io,
                message: "\(base): \(method) \(path) answered \(status) \(response.status.reasonPhrase)", status: status
            )
        }
        return bytes
    }
}

/// The server's receipt for a pack.
package struct PackReceipt: Codable, Sendable {
    package let stored: Int
    package let present: Int
    package let bytes: UInt64
}

/// A pack as an upload body: each piece read on the thread pool when the client asks for it,
/// so the disk never runs ahead of the network by more than a piece.
struct PackChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let source: BlobPackSource

    struct AsyncIterator: AsyncIteratorProtocol {
        var pieces: PackReadAhead
        mutating func next() async throws -> ByteBuffer? { try await pieces.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pieces: PackReadAhead(source)) }
}
