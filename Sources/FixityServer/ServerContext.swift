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
    /// Set instead of `key` when the request was signed by an enrolled host (`HostGate`).
    var host: HostRecord?
    /// Set by the dashboard's gate on `/dashboard` pages: the browser's session and its form.
    var dashboard: DashboardRequest?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        address = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// JSON documents (a digest list, a release registration) are collected up to this; blob
    /// packs stream and are bounded per blob instead.
    var maxUploadSize: Int { ServerLimits.maximumDocument }

    /// Throws 403 unless the presented key holds `scope` (or `admin`).
    func require(_ scope: APIKeyScope) throws {
        if let host {
            // A host reads the release it was told to run — its summary, its envelopes, its
            // blobs — and nothing else: not the fleet, not other environments, not the ledger.
            let route = endpointPath ?? ""
            // …and, sealing what a window left (`after = "propose"`), uploads that release.
            let proposing = host.mayPropose && Self.hostProposing.contains(route)
            guard (scope == .releaseRead && Self.hostReadable.contains(route)) || proposing else {
                throw APIFailure.forbidden(
                    "host \(host.name) may not use \(endpointPath ?? "this route") (hosts read releases and /v1/agent only)"
                )
            }
            return
        }
        guard let key else { throw APIFailure.unauthorized("this route needs an API key") }
        guard scope.isGranted(by: key.grantedScopes) else {
            throw APIFailure.forbidden("key \(key.id) ('\(key.name)') lacks the scope \(scope) for this route")
        }
    }

    /// The routes a host's signature opens besides `/v1/agent/*` (what `fixity pull` needs).
    static let hostReadable: Set<String> = [
        "/v1/releases/{ref}", "/v1/releases/{ref}/envelopes", "/v1/blobs/fetch",
    ]

    /// What a host proposing a window's changes as a release uses (`fixity push`'s routes).
    static let hostProposing: Set<String> = ["/v1/blobs/missing", "/v1/blobs", "/v1/releases"]

    /// Throws 403 unless the key holds one of `scopes` (or `admin`).
    func requireAny(_ scopes: [APIKeyScope]) throws {
        guard let key else {
            _ = try requireHost()
            throw APIFailure.forbidden("hosts may not use \(endpointPath ?? "this route")")
        }
        guard scopes.contains(where: { $0.isGranted(by: key.grantedScopes) }) else {
            throw APIFailure.forbidden(
                "key \(key.id) ('\(key.name)') lacks the scope for this route (one of: \(scopes.map(\.description).joined(separator: ", ")))"
            )
        }
    }

    /// The key that sent this request; 401 for a host's signed request.
    func requireKey() throws -> APIKeyRecord {
        guard let key else { throw APIFailure.unauthorized("this route needs an API key") }
        return key
    }

    /// The key's id for ledger entries ("-" before a key was accepted).
    var keyID: String { key?.id ?? host.map { "host:\($0.name)" } ?? LedgerDetail.absent }

    /// The host that signed this request; 401 for a request with an API key.
    func requireHost() throws -> HostRecord {
        guard let host else {
            throw APIFailure.unauthorized("this route is for enrolled hosts: sign the request with the host's identity")
        }
        return host
    }
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
