import FixityCore
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// The check every host request passes instead of an API key (docs/agent.md, "Request
/// signatures"): an RFC 9421 signature by an enrolled, unrevoked host's key over the method,
/// path, query and content digest, created within `freshness` seconds of the server's clock,
/// with a nonce not seen in that window. The body is read (bounded) to check its digest, so a
/// signature can never be moved onto another body.
struct HostGate: Sendable {
    /// How far a signature's `created` may be from the server's clock, either way.
    static let freshness: Int64 = 60

    let fleet: any Fleet
    let clock: any WallClock
    let nonces = NonceWindow()

    /// The host, and the request with its body collected (so the route can read it again).
    func admit(_ request: Request, _ context: ServerContext) async throws -> (HostRecord, Request) {
        guard let input = request.headers[.signatureInput], let value = request.headers[.signature] else {
            throw HostRefusal(host: "-", "a host request needs Signature-Input and Signature headers")
        }
        let signature: MessageSignature
        do {
            signature = try MessageSignature(signatureInput: input, signature: value)
        } catch {
            throw HostRefusal(host: "-", (error as? SignatureError)?.message ?? "\(error)")
        }
        let now = Int64(clock.now().timeIntervalSince1970)
        guard abs(now - signature.created) <= Self.freshness else {
            throw HostRefusal(
                host: signature.keyID.short,
                "the signature was created at \(signature.created), \(now - signature.created) s from the server's clock (at most \(Self.freshness)): stale or from the future"
            )
        }
        guard let host = try await fleet.host(keyID: signature.keyID) else {
            throw HostRefusal(host: signature.keyID.short, "no host is enrolled with key \(signature.keyID.short)")
        }
        guard host.revokedAt == nil else {
            throw HostRefusal(host: host.name, "host \(host.name) was revoked at \(host.revokedAt!)")
        }
        var request = request
        let body: [UInt8]
        do {
            body = Array(try await request.collectBody(upTo: ServerLimits.maximumDocument).readableBytesView)
        } catch {
            throw HostRefusal(
                host: host.name, "the request body is over \(ServerLimits.maximumDocument) bytes or broke off")
        }
        let target = MessageSignature.Target(
            method: request.method.rawValue, path: request.uri.path, query: request.uri.query, body: body)
        guard request.headers[.contentDigest] == target.contentDigest else {
            throw HostRefusal(host: host.name, "Content-Digest is missing or does not match the body")
        }
        guard signature.verifies(target, by: host.publicKey) else {
            throw HostRefusal(host: host.name, "the signature does not verify with host \(host.name)'s key")
        }
        guard nonces.insert(host: host.keyID, nonce: signature.nonce, created: signature.created, now: now) else {
            throw HostRefusal(host: host.name, "nonce \(signature.nonce) was already used: a replayed request")
        }
        return (host, request)
    }
}

/// A host request the gate refused: the ledger's `host-refused` and a 401.
struct HostRefusal: FixityError {
    let host: String
    let message: String
    var category: ErrorCategory { .unauthorized }
    init(host: String, _ message: String) {
        self.host = host
        self.message = message
    }
}

/// The nonces seen within the freshness window, per host: a request signed once is accepted
/// once. Entries older than the window are dropped (a request that old is refused as stale).
final class NonceWindow: Sendable {
    private struct Seen {
        var byNonce: [String: Int64] = [:]
        var lastSweep: Int64 = 0
    }
    private let seen = Mutex(Seen())
    /// Past this many live nonces (a flood from enrolled hosts), new ones are refused.
    static let capacity = 1_000_000

    func insert(host: KeyID, nonce: String, created: Int64, now: Int64) -> Bool {
        seen.withLock { seen in
            if now - seen.lastSweep >= HostGate.freshness {
                seen.byNonce = seen.byNonce.filter { now - $0.value <= 2 * HostGate.freshness }
                seen.lastSweep = now
            }
            let key = host.hex + "/" + nonce
            guard seen.byNonce[key] == nil, seen.byNonce.count < Self.capacity else { return false }
            seen.byNonce[key] = created
            return true
        }
    }
}

extension HTTPField.Name {
    static let signatureInput = HTTPField.Name("Signature-Input")!
    static let signature = HTTPField.Name("Signature")!
    static let contentDigest = HTTPField.Name("Content-Digest")!
}
