import FixityAccess
import FixityCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The gate in front of `/v1`: a request needs `Authorization: Bearer fxk_…` naming a key that
/// is known, unexpired and unrevoked; each route then requires its scope
/// (`ServerContext.require`). Refusals — no key, a bad key, a missing scope — are ledger
/// entries (the key's id, never the key) and count toward the address's throttle; every
/// mutating request's outcome is a ledger entry too. Reads go only to metrics and the access
/// log. Answers to a throttled address (429) are counted in metrics, not written to the
/// ledger: a flood must not be able to grow the ledger without bound.
struct KeyGate: RouterMiddleware {
    typealias Context = ServerContext

    let plane: any ControlPlane
    let throttle: FailureThrottle
    let metrics: ServerMetrics
    let uses: KeyUseRecorder
    let cache: CatalogCache
    let hosts: HostGate
    /// POST routes that only read (a digest list answered, blobs sent back).
    static let readingPosts: Set<String> = ["/v1/blobs/missing", "/v1/blobs/fetch"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let route = context.endpointPath ?? request.uri.path
        let method = request.method.rawValue
        if let wait = throttle.retryAfter(context.address) {
            metrics.refused("throttled")
            throw APIFailure(
                .tooManyRequests, .unauthorized,
                "too many failed authentications from \(context.address); retry after \(wait) s", retryAfter: wait)
        }
        var context = context
        if request.headers[.signatureInput] != nil {
            return try await handleHost(request, context: context, route: route, next: next)
        }
        do {
            context.key = try await authenticate(request, context)
        } catch let failure as APIFailure {
            throttle.failed(context.address)
            try await refuse(failure, route: route, method: method, context: context)
        }
        throttle.succeeded(context.address)
        let mutating = request.method != .get && request.method != .head && !Self.readingPosts.contains(route)
        do {
            var response = try await next(request, context)
            // What this request changed is committed: nothing cached before it may answer again.
            if mutating { cache.changed() }
            // Lets a client warn its user before the key stops working (the CLI does from 14 days).
            if let key = context.key { response.headers[.keyExpires] = key.expiresAt }
            if mutating {
                try await plane.recordRequest(
                    keyID: context.keyID, method: method, route: route, status: response.status.code,
                    address: context.address)
            }
            return response
        } catch {
            if mutating { cache.changed() }
            let failure = FailureMiddleware<Context>.failure(for: error, request: request, logger: context.logger)
            if failure.status == .forbidden {
                try await refuse(failure, route: route, method: method, context: context)
            }
            if mutating {
                try await plane.recordRequest(
                    keyID: context.keyID, method: method, route: route, status: failure.status.code,
                    address: context.address)
            }
            throw failure
        }
    }

    /// A request signed by a host: admitted by `HostGate`; a refusal is a `host-refused` entry
    /// and counts toward the address's throttle as a bad key does. A host's reports are recorded
    /// by their route; they change no cached answer, so the cache is left alone.
    private func handleHost(
        _ request: Request, context: Context, route: String, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        let admitted: Request
        do {
            (context.host, admitted) = try await hosts.admit(request, context)
        } catch let refusal as HostRefusal {
            throttle.failed(context.address)
            metrics.refused("host")
            context.logger.notice(
                "refused host request \(request.method) \(route) from \(context.address): \(refusal.message)")
            try await plane.fleet.recordRefusal(
                host: refusal.host, reason: refusal.message, route: route, address: context.address)
            throw APIFailure.unauthorized(refusal.message)
        }
        throttle.succeeded(context.address)
        return try await next(admitted, context)
    }

    private func authenticate(_ request: Request, _ context: Context) async throws -> APIKeyRecord {
        guard let header = request.headers[.authorization] else {
            throw APIFailure.unauthorized("this route needs an API key: send Authorization: Bearer fxk_…")
        }
        guard header.hasPrefix("Bearer ") else {
            throw APIFailure.unauthorized("the Authorization header must be 'Bearer fxk_…'")
        }
        return try await KeyCheck(plane: plane, cache: cache, uses: uses).key(
            String(header.dropFirst("Bearer ".count)), from: context.address)
    }

    private func refuse(_ failure: APIFailure, route: String, method: String, context: Context) async throws -> Never {
        metrics.refused(failure.status == .forbidden ? "scope" : "key")
        context.logger.notice(
            "refused \(method) \(route) from \(context.address): \(failure.message)")
        try await plane.recordRefusal(
            Refusal(
                keyID: context.keyID, method: method, route: route, status: failure.status.code,
                reason: failure.message, address: context.address))
        throw failure
    }
}

/// Whether a presented key is known, unexpired and unrevoked now: the one check behind the
/// API's bearer keys and the dashboard's sessions.
struct KeyCheck: Sendable {
    let plane: any ControlPlane
    let cache: CatalogCache
    let uses: KeyUseRecorder

    /// The key's record, or 401 naming why not. The use is noted (time and address).
    func key(_ presented: String, from address: String) async throws -> APIKeyRecord {
        do {
            // Looked up by the SHA-256 of the key: what the lookup's timing could tell about is a
            // digest nobody can steer, never the key.
            let digest = try APIKeySecret(presented: presented).digest
            let key: APIKeyRecord
            if let cached = cache.key(digest) {
                key = try cached.admitted(at: plane.clock.now())
            } else {
                let generation = cache.readStarting()
                key = try await plane.authenticate(presented)
                cache.remember(key: key, digest: digest, readAt: generation)
            }
            uses.note(KeyUse(id: key.id, time: Date(), address: address))
            return key
        } catch let error as AccessError where error.category == .unauthorized || error.category == .badInput {
            throw APIFailure.unauthorized(error.message)
        }
    }
}
