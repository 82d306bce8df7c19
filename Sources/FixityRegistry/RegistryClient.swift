import AsyncHTTPClient
import FixityCore
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// The OCI distribution API (distribution-spec 1.1) for one repository: blobs, manifests,
/// referrers (the API, or the `sha256-<hex>` tag fallback where the registry lacks it), with
/// basic and bearer-token authentication. Every error names the registry's status and message.
///
/// Async from end to end (no future is waited on; a server can call it from its event loops'
/// tasks), and its HTTP client has an explicit lifetime: a `RegistryClient` exists only inside
/// `RegistryClient.session`, which shuts the connection pool down when the body returns or throws.
package final class RegistryClient: Sendable {
    package struct Response: Sendable {
        package let status: Int
        package let headers: HTTPHeaders
        package let body: [UInt8]
        /// Bytes of the body received (streamed to a sink, or `body.count`).
        package let count: Int
    }

    package let reference: RegistryReference
    let base: String
    private let client: HTTPClient
    private let credentials: RegistryCredentials?
    /// The `Authorization` a challenge earned, reused by every later request of the session.
    private let authorization = Mutex<String?>(nil)
    /// Blobs larger than this go up in PATCH chunks of this size.
    package static let chunkSize = 8 << 20

    /// Runs `body` with a client for `reference`, then shuts its connections down — also when
    /// `body` throws.
    package static func session<T: Sendable>(
        _ reference: RegistryReference, insecure: Bool, credentials: RegistryCredentials?,
        _ body: (RegistryClient) async throws -> T
    ) async throws -> T {
        let client = try RegistryClient(reference: reference, insecure: insecure, credentials: credentials)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(client))
        } catch {
            result = .failure(error)
        }
        try? await client.client.shutdown()
        return try result.get()
    }

    private init(reference: RegistryReference, insecure: Bool, credentials: RegistryCredentials?) throws(OCIError) {
        if insecure && !reference.isLoopback {
            throw OCIError(
                "--insecure (plain HTTP) is only allowed to a loopback address, not \(reference.host): use HTTPS")
        }
        self.reference = reference
        base = (insecure ? "http://" : "https://") + reference.registry
        self.credentials = credentials ?? RegistryCredentials.fromDockerConfig(registry: reference.registry)
        var configuration = HTTPClient.Configuration(redirectConfiguration: .follow(max: 5, allowCycles: false))
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(300))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    var repositoryPath: String { "/v2/\(reference.repository)" }

    // MARK: Requests

    /// Responses other than blobs (manifests, referrer indexes, tokens, errors) are at most this.
    package static let documentLimit = 4 << 20

    /// One request, answered with one of `expect`. A 401 with a challenge is answered once. The
    /// body is never trusted for its size: it is refused past `limit` bytes, and with a `sink`
    /// a success body streams there instead of into memory (BoundedBody).
    package func send(
        _ method: HTTPMethod, _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        expect: Set<Int>,
        limit: Int = RegistryClient.documentLimit, sink: ((UnsafeRawBufferPointer) throws -> Void)? = nil
    ) async throws -> Response {
        let url = target.hasPrefix("http://") || target.hasPrefix("https://") ? target : base + target
        for attempt in 0..<2 {
            var request = HTTPClientRequest(url: url)
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            // An upload Location may point anywhere; the registry's credentials go only to the
            // registry itself, and never down from HTTPS to plain HTTP. (Redirects: the HTTP
            // client itself drops Authorization across origins and refuses HTTPS → HTTP.)
            let sameOrigin = try checkedOrigin(of: url)
            if let authorization = authorization.withLock({ $0 }), sameOrigin {
                request.headers.replaceOrAdd(name: "Authorization", value: authorization)
            }
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let received: BoundedBody.Received
            do {
                received = try await BoundedBody.receive(
                    try await client.execute(request, timeout: Self.requestTimeout), limit: limit, sink: sink)
            } catch let tooLarge as BoundedBody.TooLarge {
                throw OCIError(
                    "registry \(reference.registry): \(method) \(Self.shown(url)) answered more than \(tooLarge.limit) bytes: refused, nothing kept"
                )
            } catch let failed as BoundedBody.SinkFailed {
                throw failed.underlying
            } catch {
                throw OCIError("registry \(reference.registry): \(method) \(Self.shown(url)) failed: \(error)")
            }
            let status = received.status
            if status == 401, attempt == 0, let challenge = received.headers.first(name: "WWW-Authenticate") {
                try await authenticate(challenge)
                continue
            }
            guard expect.contains(status) else {
                let reason = HTTPResponseStatus(statusCode: status).reasonPhrase
                throw OCIError(
                    "registry \(reference.registry) answered \(status) \(reason) to \(method) \(Self.shown(url)): \(Self.message(received.body))"
                )
            }
            return Response(status: status, headers: received.headers, body: received.body, count: received.count)
        }
        throw OCIError(
            "registry \(reference.registry) refused the credentials for \(reference.repository) (401 after authenticating)"
        )
    }

    /// The longest one request may take in all. A stalled transfer ends sooner: the client's
    /// read timeout (300 s without a byte) applies throughout.
    static let requestTimeout = TimeAmount.hours(6)

    /// Whether `url` is the registry itself (scheme, host and port of `base`). Refuses a URL that
    /// would take a request from HTTPS to plain HTTP.
    private func checkedOrigin(of url: String) throws -> Bool {
        guard let target = URLComponents(string: url), let origin = URLComponents(string: base) else {
            throw OCIError("registry \(reference.registry): bad URL \(Self.shown(url))")
        }
        if origin.scheme == "https" && target.scheme != "https" {
            throw OCIError(
                "registry \(reference.registry) sent Fixity to \(target.scheme ?? "?")://\(target.host ?? "?"): refused, only HTTPS follows HTTPS"
            )
        }
        func port(_ url: URLComponents) -> Int { url.port ?? (url.scheme == "https" ? 443 : 80) }
        return target.scheme == origin.scheme && target.host?.lowercased() == origin.host?.lowercased()
            && port(target) == port(origin)
    }

    private static func shown(_ url: String) -> String {
        // Upload URLs carry opaque state; the path is what helps.
        URLComponents(string: url)?.path ?? url
    }

    /// The distribution spec's error body (`errors[].code/message`), else the body's start.
    /// The server's words are shown, never obeyed: control characters (a terminal escape, a
    /// forged second log line) are written as `\u{..}`, and at most 300 characters are kept.
    static func message(_ body: [UInt8]) -> String {
        let text: String
        if let errors = (try? JSONDecoder().decode(ErrorBody.self, from: Data(body)))?.errors, !errors.isEmpty {
            text = errors.map { "\($0.code ?? "?"): \($0.message ?? "")" }.joined(separator: "; ")
        } else {
            text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let shown = Self.printable(String(text.prefix(300)))
        return shown.isEmpty ? "(no message)" : shown
    }

    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Answers a `WWW-Authenticate` challenge: Basic with the credentials, or Bearer by fetching a
    /// token from the realm (with the credentials when there are any).
    private func authenticate(_ challenge: String) async throws {
        let (scheme, parameters) = Self.parseChallenge(challenge)
        switch scheme.lowercased() {
        case "basic":
            guard let credentials else {
                throw OCIError(
                    "registry \(reference.registry) requires credentials: --username with --password-stdin, or docker login"
                )
            }
            let basic = "Basic " + Base64.encode(Array("\(credentials.username):\(credentials.password)".utf8))
            authorization.withLock { $0 = basic }
        case "bearer":
            guard let realm = parameters["realm"], var components = URLComponents(string: realm) else {
                throw OCIError("registry \(reference.registry): a bearer challenge without a realm")
            }
            var query = components.queryItems ?? []
            if let service = parameters["service"] { query.append(URLQueryItem(name: "service", value: service)) }
            query.append(
                URLQueryItem(
                    name: "scope", value: parameters["scope"] ?? "repository:\(reference.repository):pull,push"))
            components.queryItems = query
            guard let url = components.string else {
                throw OCIError("registry \(reference.registry): bad token realm \(realm)")
            }
            // The realm gets the credentials: never over plain HTTP when the registry is HTTPS.
            _ = try checkedOrigin(of: url)
            var request = HTTPClientRequest(url: url)
            if let credentials {
                request.headers.add(
                    name: "Authorization",
                    value: "Basic " + Base64.encode(Array("\(credentials.username):\(credentials.password)".utf8)))
            }
            let response: BoundedBody.Received
            do {
                response = try await BoundedBody.receive(
                    try await client.execute(request, timeout: Self.requestTimeout), limit: Self.documentLimit)
            } catch {
                throw OCIError(
                    "token service \(components.host ?? realm): \(error is BoundedBody.TooLarge ? "answered more than \(Self.documentLimit) bytes" : "\(error)")"
                )
            }
            let bytes = response.body
            guard response.status == 200,
                let answer = try? JSONDecoder().decode(TokenAnswer.self, from: Data(bytes)),
                let token = answer.token ?? answer.access_token
            else {
                let hint =
                    response.status == 401 && credentials == nil
                    ? " (it needs credentials: --username with --password-stdin, or docker login)" : ""
                throw OCIError(
                    "token service \(components.host ?? realm) answered \(response.status): \(Self.message(bytes))\(hint)"
                )
            }
            authorization.withLock { $0 = "Bearer " + token }
        default:
            throw OCIError("registry \(reference.registry) asks for unsupported authentication '\(scheme)'")
        }
    }

    /// `Bearer realm="…",service="…",scope="…"` → ("Bearer", parameters). Quoted values only,
    /// as registries send them; anything else in the header is skipped.
    static func parseChallenge(_ header: String) -> (String, [String: String]) {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " ") else { return (trimmed, [:]) }
        var parameters = [String: String]()
        var rest = trimmed[trimmed.index(after: space)...]
        while let equals = rest.firstIndex(of: "=") {
            let key = rest[..<equals].drop { $0 == " " || $0 == "," }
            let afterEquals = rest[rest.index(after: equals)...]
            guard afterEquals.first == "\"", let close = afterEquals.dropFirst().firstIndex(of: "\"") else { break }
            let value = afterEquals[afterEquals.index(after: afterEquals.startIndex)..<close]
            if !key.isEmpty, key.allSatisfy({ $0.isLetter || $0 == "_" }) { parameters[String(key)] = String(value) }
            rest = afterEquals[afterEquals.index(after: close)...]
        }
        return (String(trimmed[..<space]), parameters)
    }

    // MARK: Blobs

    package func hasBlob(_ digest: Digest) async throws -> Bool {
        try await send(.HEAD, "\(repositoryPath)/blobs/\(digest)", expect: [200, 404]).status == 200
    }

    /// Uploads a blob unless the registry has it; false when it was already there. `next`
    /// yields the bytes in order, up to the count asked for, empty at the end.
    @discardableResult
    package func pushBlob(_ digest: Digest, size: Int, next: (Int) throws -> [UInt8]) async throws -> Bool {
        if try await hasBlob(digest) { return false }
        let started = try await send(
            .POST, "\(repositoryPath)/blobs/uploads/", headers: [("Content-Length", "0")], expect: [202])
        var location = try uploadLocation(started)
        if size <= Self.chunkSize {
            var body = [UInt8]()
            while body.count < size {
                let chunk = try next(size - body.count)
                if chunk.isEmpty { break }
                body += chunk
            }
            _ = try await send(
                .PUT, Self.adding(digest: digest, to: location),
                headers: [("Content-Type", "application/octet-stream")], body: body, expect: [201])
            return true
        }
        // Chunked: PATCH each piece with its Content-Range, following the Location each returns.
        var offset = 0
        while offset < size {
            let chunk = try next(min(Self.chunkSize, size - offset))
            if chunk.isEmpty { break }
            let response = try await send(
                .PATCH, location,
                headers: [
                    ("Content-Type", "application/octet-stream"),
                    ("Content-Range", "\(offset)-\(offset + chunk.count - 1)"),
                ], body: chunk, expect: [202])
            location = try uploadLocation(response)
            offset += chunk.count
        }
        _ = try await send(
            .PUT, Self.adding(digest: digest, to: location), headers: [("Content-Length", "0")], expect: [201])
        return true
    }

    /// A small blob (a config, an envelope), whole, checked against its digest.
    package func blob(_ digest: Digest, maxBytes: Int) async throws -> [UInt8] {
        let response = try await send(.GET, "\(repositoryPath)/blobs/\(digest)", expect: [200], limit: maxBytes)
        guard Digest.of(response.body) == digest else {
            throw OCIError("registry \(reference.registry): blob \(digest) does not match its digest")
        }
        return response.body
    }

    /// A blob of exactly `size` bytes streamed into `write` as it arrives, hashed on the way;
    /// the download stops at the first byte past `size`. Throws unless the bytes are exactly
    /// `size` long and hash to `digest` — the caller must discard what it wrote then.
    package func downloadBlob(
        _ digest: Digest, size: Int64, into write: @escaping (UnsafeRawBufferPointer) throws -> Void
    ) async throws {
        guard size >= 0, size <= Int64(Int.max) else { throw OCIError("blob \(digest.short): bad size \(size)") }
        let hasher = HashingSink(write)
        let response = try await send(
            .GET, "\(repositoryPath)/blobs/\(digest)", expect: [200], limit: Int(size), sink: hasher.write)
        guard response.count == Int(size) else {
            throw OCIError(
                "registry \(reference.registry): blob \(digest.short) has \(response.count) bytes, its descriptor says \(size)"
            )
        }
        guard hasher.digest == digest else {
            throw OCIError(
                "registry \(reference.registry): blob \(digest.short) does not match its digest (got \(hasher.digest.short))"
            )
        }
    }

    private func uploadLocation(_ response: Response) throws -> String {
        guard let location = response.headers.first(name: "Location") else {
            throw OCIError("registry \(reference.registry): an upload response without a Location")
        }
        if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
        return base + (location.hasPrefix("/") ? "" : "/") + location
    }

    static func adding(digest: Digest, to location: String) -> String {
        location + (location.contains("?") ? "&" : "?") + "digest=" + digest.description
    }

    // MARK: Manifests

    /// Returns the digest the registry computed (it must equal ours).
    @discardableResult
    package func putManifest(_ bytes: [UInt8], mediaType: String, reference tagOrDigest: String) async throws
        -> Response
    {
        let response = try await send(
            .PUT, "\(repositoryPath)/manifests/\(tagOrDigest)", headers: [("Content-Type", mediaType)], body: bytes,
            expect: [201])
        if let answered = response.headers.first(name: "Docker-Content-Digest"),
            answered != Digest.of(bytes).description
        {
            throw OCIError(
                "registry \(reference.registry) stored the manifest as \(answered), not \(Digest.of(bytes)): it rewrote it"
            )
        }
        return response
    }

    /// A manifest by digest (verified) or tag, with its media type; nil when the registry has none.
    package func manifest(
        _ tagOrDigest: String,
        accept: [String] = [OCI.MediaType.manifest, OCI.MediaType.index, OCI.MediaType.dockerManifest]
    ) async throws -> (mediaType: String, bytes: [UInt8])? {
        let response = try await send(
            .GET, "\(repositoryPath)/manifests/\(tagOrDigest)", headers: [("Accept", accept.joined(separator: ", "))],
            expect: [200, 404])
        guard response.status == 200 else { return nil }
        if let digest = Digest(parsing: tagOrDigest), Digest.of(response.body) != digest {
            throw OCIError("registry \(reference.registry): manifest \(tagOrDigest) does not match its digest")
        }
        guard response.body.count <= Self.documentLimit else {
            throw OCIError("registry \(reference.registry): manifest \(tagOrDigest) is larger than 4 MiB")
        }
        return (response.headers.first(name: "Content-Type") ?? "", response.body)
    }
}

/// Hashes what passes through to the real sink.
private final class HashingSink {
    private var hasher = ContentHasher()
    private let next: (UnsafeRawBufferPointer) throws -> Void
    init(_ next: @escaping (UnsafeRawBufferPointer) throws -> Void) { self.next = next }
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        try next(bytes)
    }
    var digest: Digest { hasher.finalize() }
}

/// The distribution spec's error body: `{"errors": [{"code", "message"}]}`.
private struct ErrorBody: Decodable {
    struct Item: Decodable {
        let code: String?
        let message: String?
    }
    let errors: [Item]?
}

/// A token service's answer (Docker's `token`, or OAuth's `access_token`).
private struct TokenAnswer: Decodable {
    let token: String?
    let access_token: String?
}
