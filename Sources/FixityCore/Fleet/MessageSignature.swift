import Crypto
import Foundation

/// A host's signature on an HTTP request: the subset of HTTP Message Signatures (RFC 9421) a
/// Fixity agent sends and a server accepts, byte for byte as docs/agent.md describes it.
///
/// The covered components are always, in this order, `"@method" "@path" "@query"
/// "content-digest"`; the parameters always `created`, `keyid`, `alg="ed25519"` and `nonce`.
/// The content digest is RFC 9530's `sha-256=:<base64>:` of the body (of zero bytes when there
/// is none), so a signature covers the body too. Anything else — another label, another
/// component list, a missing or extra parameter — is refused rather than interpreted: a
/// verifier that accepts variations is one an attacker can steer.
public struct MessageSignature: Sendable, Equatable {
    /// The signature's label in `Signature-Input` and `Signature`.
    public static let label = "fixity"
    public static let components = ["@method", "@path", "@query", "content-digest"]

    /// What the signature covers of the request.
    public struct Target: Sendable, Equatable {
        public let method: String
        /// The path, as sent (no query).
        public let path: String
        /// `?` and the query as sent, or `?` alone when there is none (RFC 9421 §2.2.7).
        public let query: String
        public let contentDigest: String

        public init(method: String, path: String, query: String?, body: [UInt8]) {
            self.method = method.uppercased()
            self.path = path
            self.query = "?" + (query ?? "")
            contentDigest = MessageSignature.contentDigest(of: body)
        }

        public init(method: String, path: String, query: String?, contentDigest: String) {
            self.method = method.uppercased()
            self.path = path
            self.query = "?" + (query ?? "")
            self.contentDigest = contentDigest
        }
    }

    /// Seconds since the epoch when the request was signed.
    public let created: Int64
    /// The signing host's key id (hex SHA-256 of its public key).
    public let keyID: KeyID
    /// Unique per request: what lets a server refuse a replay within the freshness window.
    public let nonce: String
    /// The 64-byte Ed25519 signature.
    public let signature: [UInt8]

    /// `Content-Digest` for `body`.
    public static func contentDigest(of body: [UInt8]) -> String {
        "sha-256=:" + Base64.encode(Array(SHA256.hash(data: body))) + ":"
    }

    /// The `Signature-Input` member value: the component list and the parameters.
    public static func parameters(created: Int64, keyID: KeyID, nonce: String) -> String {
        "(" + components.map { "\"\($0)\"" }.joined(separator: " ") + ")"
            + ";created=\(created);keyid=\"\(keyID.hex)\";alg=\"ed25519\";nonce=\"\(nonce)\""
    }

    /// The signature base (RFC 9421 §2.5): one line per component, then `@signature-params`;
    /// lines end in LF, the last has none.
    public static func base(of target: Target, created: Int64, keyID: KeyID, nonce: String) -> [UInt8] {
        let lines = [
            "\"@method\": \(target.method)",
            "\"@path\": \(target.path)",
            "\"@query\": \(target.query)",
            "\"content-digest\": \(target.contentDigest)",
            "\"@signature-params\": " + parameters(created: created, keyID: keyID, nonce: nonce),
        ]
        return Array(lines.joined(separator: "\n").utf8)
    }

    /// Signs `target` now; the two header values to send.
    public static func sign(_ target: Target, with key: SigningKey, created: Int64, nonce: String = newNonce())
        -> (signatureInput: String, signature: String)
    {
        let signature = key.sign(base(of: target, created: created, keyID: key.id, nonce: nonce))
        return (
            "\(label)=" + parameters(created: created, keyID: key.id, nonce: nonce),
            "\(label)=:" + Base64.encode(signature) + ":"
        )
    }

    /// 128 random bits, base64url.
    public static func newNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64.encodeURL((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// Parses the two headers strictly (the only accepted form is what `sign` writes).
    public init(signatureInput: String, signature: String) throws {
        let prefix = "\(Self.label)="
        guard signatureInput.hasPrefix(prefix) else {
            throw SignatureError("Signature-Input must hold exactly one signature labelled '\(Self.label)'")
        }
        let params = signatureInput.dropFirst(prefix.count)
        let list = "(" + Self.components.map { "\"\($0)\"" }.joined(separator: " ") + ")"
        guard params.hasPrefix(list) else {
            throw SignatureError("Signature-Input must cover exactly \(list)")
        }
        var created: Int64?
        var keyID: KeyID?
        var nonce: String?
        var alg: String?
        let rest = params.dropFirst(list.count)
        guard rest.first == ";" else { throw SignatureError("Signature-Input has no parameters") }
        for item in rest.dropFirst().split(separator: ";", omittingEmptySubsequences: false) {
            guard let equals = item.firstIndex(of: "=") else {
                throw SignatureError("Signature-Input parameter '\(item.prefix(40))' has no value")
            }
            let name = item[..<equals]
            let raw = item[item.index(after: equals)...]
            func quoted() throws(SignatureError) -> String {
                guard raw.count >= 2, raw.first == "\"", raw.last == "\"" else {
                    throw SignatureError("Signature-Input parameter \(name) must be a quoted string")
                }
                let inner = raw.dropFirst().dropLast()
                guard !inner.contains("\"") && !inner.contains("\\") else {
                    throw SignatureError("Signature-Input parameter \(name) holds a quote or backslash")
                }
                return String(inner)
            }
            switch name {
            case "created" where created == nil:
                guard let value = Int64(raw), value > 0, raw.allSatisfy(\.isASCIIDigit) else {
                    throw SignatureError("Signature-Input created must be a positive integer")
                }
                created = value
            case "keyid" where keyID == nil:
                guard let id = KeyID(hex: try quoted()) else {
                    throw SignatureError("Signature-Input keyid must be 64 lowercase hex digits (a host key id)")
                }
                keyID = id
            case "alg" where alg == nil: alg = try quoted()
            case "nonce" where nonce == nil:
                let value = try quoted()
                guard (16...64).contains(value.utf8.count), value.utf8.allSatisfy(Self.isNonceByte) else {
                    throw SignatureError("Signature-Input nonce must be 16-64 characters of base64url")
                }
                nonce = value
            default:
                throw SignatureError("Signature-Input parameter '\(name.prefix(40))' is unknown or repeated")
            }
        }
        guard let created, let keyID, let nonce, alg == "ed25519" else {
            throw SignatureError("Signature-Input needs created, keyid, nonce and alg=\"ed25519\"")
        }
        guard signature.hasPrefix(prefix), signature.hasSuffix(":"), signature.dropFirst(prefix.count).first == ":"
        else { throw SignatureError("Signature must be \(Self.label)=:<base64>:") }
        let encoded = signature.dropFirst(prefix.count + 1).dropLast()
        guard let bytes = Base64.decode(String(encoded)), bytes.count == 64 else {
            throw SignatureError("Signature must carry a 64-byte Ed25519 signature in base64")
        }
        self.created = created
        self.keyID = keyID
        self.nonce = nonce
        self.signature = bytes
    }

    /// Whether `publicKey` signed `target` with these parameters.
    public func verifies(_ target: Target, by publicKey: PublicKey) -> Bool {
        publicKey.id == keyID
            && publicKey.verifies(
                signature, over: Self.base(of: target, created: created, keyID: keyID, nonce: nonce))
    }

    private static func isNonceByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "_")
    }
}

/// A request signature that cannot be read or does not hold.
public struct SignatureError: FixityError, Sendable {
    public let message: String
    public var category: ErrorCategory { .unauthorized }
    public init(_ message: String) { self.message = message }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
