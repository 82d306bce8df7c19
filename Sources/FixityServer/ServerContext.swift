import FixityAccess
import FixityCore
import Hummingbird
import NIOCore

/// What a request carries through the router: where it came from and, once the key gate let it
/// in, the key it presented.
struct ServerContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The peer's IP address (what the throttle counts and `last_used_from` records).
    let address: String
    /// Set by the key gate on `/v1` routes.
    var key: APIKeyRecord?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        address = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// JSON documents (a digest list, a release registration) are collected up to this; blob
    /// packs stream and are bounded per blob instead.
    var maxUploadSize: Int { ServerLimits.maximumDocument }

    /// Throws 403 unless the presented key holds `scope` (or `admin`).
    func require(_ scope: APIKeyScope) throws {
        guard let key else { throw APIFailure.unauthorized("this route needs an API key") }
        guard scope.isGranted(by: key.grantedScopes) else {
            throw APIFailure.forbidden("key \(key.id) ('\(key.name)') lacks the scope \(scope) for this route")
        }
    }

    /// The key's id for ledger entries ("-" before a key was accepted).
    var keyID: String { key?.id ?? LedgerDetail.absent }
}

/// Limits every client is held to (docs/server.md, "Limits").
enum ServerLimits {
    /// A JSON request body.
    static let maximumDocument = 16 << 20
    /// One blob in a pack.
    static let maximumBlob: UInt64 = 64 << 30
    /// Digests in one missing-blobs or fetch request.
    static let maximumDigests = 100_000
    /// A connection that sends nothing for this long is closed (a slow or stalled client).
    static let idleSeconds: Int64 = 60
}
