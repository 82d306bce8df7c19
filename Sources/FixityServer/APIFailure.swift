import FixityCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Every error a client sees: an HTTP status and `{"error": {"category", "message"}}` — the same
/// document the CLI prints with `--json`, so a script reads both alike. The message names what
/// was wrong (the digest, the tag, the scope), never a key's secret.
package struct APIFailure: Error, HTTPResponseError, FixityError, Sendable {
    package let status: HTTPResponse.Status
    package let category: ErrorCategory
    package let message: String
    /// Seconds a throttled client should wait (429 only).
    package var retryAfter: Int?
    /// The methods a path takes (405 only).
    package var allow: String?

    package init(_ status: HTTPResponse.Status, _ category: ErrorCategory, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.category = category
        self.message = message
        self.retryAfter = retryAfter
    }

    /// A Fixity error from below, with the status its category maps to.
    package init(_ error: any FixityError) {
        if let failure = error as? APIFailure {
            self = failure
        } else {
            self.init(HTTPResponse.Status(code: error.category.httpStatus), error.category, error.message)
        }
    }

    static func unauthorized(_ message: String) -> APIFailure { APIFailure(.unauthorized, .unauthorized, message) }
    static func forbidden(_ message: String) -> APIFailure { APIFailure(.forbidden, .unauthorized, message) }
    static func badInput(_ message: String) -> APIFailure { APIFailure(.badRequest, .badInput, message) }
    static func notFound(_ message: String) -> APIFailure { APIFailure(.notFound, .notFound, message) }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if let allow { headers[.allow] = allow }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    package var body: [UInt8] {
        let document = ErrorDocument(error: .init(category: category.rawValue, message: message))
        return Array((try? JSONStyle.compact.encoder().encode(document)) ?? Data()) + [0x0a]
    }

    struct ErrorDocument: Codable {
        struct Inner: Codable {
            let category: String
            let message: String
        }
        let error: Inner
    }
}

extension HTTPField.Name {
    static let retryAfter = HTTPField.Name("Retry-After")!
    static let allow = HTTPField.Name("Allow")!
    /// On every `/v1` answer to a key: when that key expires (RFC 3339).
    static let keyExpires = HTTPField.Name("Fixity-Key-Expires")!
}

/// Turns whatever a route threw into an `APIFailure`: Fixity's errors keep their category and
/// message; Hummingbird's own (an unknown route, a body over the limit) get the same JSON
/// shape; anything else is an internal error whose text is logged, not sent.
struct FailureMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            throw Self.failure(for: error, request: request, logger: context.logger)
        }
    }

    static func failure(for error: any Error, request: Request, logger: Logger) -> APIFailure {
        switch error {
        case let error as PostgresFailure where error.unavailable:
            // The database went away: a replica says so, and a balancer or client retries.
            logger.warning("database unavailable on \(request.method) \(request.uri.path): \(error.message)")
            return APIFailure(
                .serviceUnavailable, .io, "the database does not answer; retry shortly", retryAfter: 1)
        case let error as any FixityError:
            return APIFailure(error)
        case let error as HTTPError:
            let category: ErrorCategory =
                switch error.status {
                case .notFound: .notFound
                case .unauthorized, .forbidden: .unauthorized
                case .contentTooLarge, .badRequest, .methodNotAllowed, .unsupportedMediaType: .badInput
                default: error.status.code < 500 ? .badInput : .internal
                }
            if error.status == .notFound && error.body == nil {
                let allowed = RouteTable.methods(for: request.uri.path)
                if !allowed.isEmpty {
                    var failure = APIFailure(
                        .methodNotAllowed, .badInput,
                        "\(request.uri.path) takes \(allowed.joined(separator: ", ")), not \(request.method)")
                    failure.allow = allowed.joined(separator: ", ")
                    return failure
                }
                return APIFailure(
                    .notFound, .notFound,
                    "no route \(request.method) \(request.uri.path) (GET /openapi.yaml lists every route)")
            }
            return APIFailure(error.status, category, error.body ?? error.status.reasonPhrase)
        case let error as any HTTPResponseError:
            return APIFailure(error.status, error.status.code < 500 ? .badInput : .internal, "\(error.status)")
        default:
            logger.error("internal error on \(request.method) \(request.uri.path): \(String(describing: error))")
            return APIFailure(.internalServerError, .internal, "internal error (logged by the server)")
        }
    }
}
