import FixityCore
import Foundation
import Hummingbird

/// JSON in and out of routes: bodies are collected up to the document limit and decoded
/// strictly (a duplicate key is refused, not resolved one way or the other); answers use the
/// CLI's `--json` style.
enum JSONBodies {
    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: ServerContext) async throws -> T {
        let bytes = try await body(request, context)
        do {
            return try StrictJSON.decode(type, from: bytes)
        } catch let error as StrictJSON.DuplicateKey {
            throw APIFailure.badInput("the request body: \(error.message)")
        } catch let error as DecodingError {
            throw APIFailure.badInput("the request body is not the JSON this route takes: \(describe(error))")
        } catch let error as any FixityError {
            throw APIFailure.badInput("the request body: \(error.message)")
        } catch {
            throw APIFailure.badInput("the request body is not JSON: \(error)")
        }
    }

    /// A document body, bounded: refused at once when its Content-Length announces more than
    /// the limit (without reading it), and as soon as it passes the limit otherwise. A body
    /// that breaks off (the client went away) is the client's problem (400), not a server fault.
    static func body(_ request: Request, _ context: ServerContext) async throws -> [UInt8] {
        let limit = context.maxUploadSize
        if let announced = request.headers[.contentLength].flatMap({ Int($0) }), announced > limit {
            throw APIFailure(
                .contentTooLarge, .badInput, "the request body announces \(announced) bytes; at most \(limit)")
        }
        var request = request
        do {
            return Array(try await request.collectBody(upTo: limit).readableBytesView)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIFailure(.contentTooLarge, .badInput, "the request body is over \(limit) bytes")
        } catch {
            throw APIFailure.badInput("the request body broke off: \(error)")
        }
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        response(encoded: try encoded(value), status: status)
    }

    /// A JSON body as every answer spells it: compact, sorted keys, one line.
    static func encoded(_ value: some Encodable) throws -> ByteBuffer {
        ByteBuffer(bytes: Array(try JSONStyle.compact.encoder().encode(value)) + [0x0a])
    }

    static func response(encoded body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    /// Digests given as `sha256:<hex>` strings, each checked; the list bounded.
    static func digests(_ texts: [String]) throws -> [Digest] {
        guard texts.count <= ServerLimits.maximumDigests else {
            throw APIFailure.badInput(
                "\(texts.count) digests in one request; at most \(ServerLimits.maximumDigests)")
        }
        return try texts.enumerated().map { index, text in
            guard let digest = Digest(parsing: text) else {
                throw APIFailure.badInput("digests[\(index)]: '\(text.prefix(80))' is not sha256:<64 lowercase hex>")
            }
            return digest
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "the document" : String(keys.drop { $0 == "." })
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context)): missing key '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// `{"digests": [...]}`: the body of missing-blobs and fetch requests.
struct DigestList: Codable {
    let digests: [String]
}
