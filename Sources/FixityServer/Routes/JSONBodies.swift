import FixityCore
import Foundation
import Hummingbird

/// JSON in and out of routes: bodies are collected up to the document limit and decoded
/// strictly (a duplicate key is refused, not resolved one way or the other); answers use the
/// CLI's `--json` style.
enum JSONBodies {
    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: ServerContext) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: context.maxUploadSize)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIFailure(
                .contentTooLarge, .badInput, "the request body is over \(context.maxUploadSize) bytes")
        }
        let bytes = Array(buffer.readableBytesView)
        do {
            return try StrictJSON.decode(type, from: bytes)
        } catch let error as StrictJSON.DuplicateKey {
            throw APIFailure.badInput("the request body: \(error.message)")
        } catch let error as DecodingError {
            throw APIFailure.badInput("the request body is not the JSON this route takes: \(describe(error))")
        } catch {
            throw APIFailure.badInput("the request body is not JSON: \(error)")
        }
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONStyle.compact.encoder().encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: Array(data) + [0x0a])))
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
