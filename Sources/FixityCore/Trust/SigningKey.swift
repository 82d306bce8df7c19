import Crypto
import Foundation

/// An Ed25519 private key as Fixity keeps it in a key file (docs/signatures.md):
///
///     {"type":"fixity-ed25519-private-key","version":1,"seed":"<base64 of 32 bytes>",
///      "public_key":"<base64 of 32 bytes>","key_id":"<hex>"}
///
/// The public key and id are redundant on purpose: a file whose seed does not give them back is
/// refused as corrupt instead of signing with a key nobody trusts.
public struct SigningKey: Sendable {
    public static let fileType = "fixity-ed25519-private-key"
    let key: Curve25519.Signing.PrivateKey
    public let publicKey: PublicKey

    public static func generate() -> SigningKey {
        let key = Curve25519.Signing.PrivateKey()
        return SigningKey(key: key, publicKey: try! PublicKey(raw: [UInt8](key.publicKey.rawRepresentation)))
    }

    private init(key: Curve25519.Signing.PrivateKey, publicKey: PublicKey) {
        self.key = key
        self.publicKey = publicKey
    }

    public var id: KeyID { publicKey.id }

    public func sign(_ message: [UInt8]) -> [UInt8] {
        [UInt8](try! key.signature(for: message))
    }

    private struct File: Codable {
        let type: String
        let version: Int
        let seed: String
        let publicKey: String
        let keyID: String
        enum CodingKeys: String, CodingKey { case type, version, seed, publicKey = "public_key", keyID = "key_id" }
    }

    public func fileBytes() -> [UInt8] {
        let file = File(
            type: Self.fileType, version: 1, seed: Base64.encode([UInt8](key.rawRepresentation)),
            publicKey: publicKey.base64, keyID: id.hex)
        return JSONStyle.compact.bytes(file) + [10]
    }

    /// The 32-byte seed in base64, for a file that carries the key inside a larger document (a
    /// host identity); written only to files of mode 0600.
    public var seedBase64: String { Base64.encode([UInt8](key.rawRepresentation)) }

    /// A key from its seed (`seedBase64`); `name` is for the error.
    public init(seedBase64 text: String, name: String) throws(TrustError) {
        guard let seed = Base64.decode(text), seed.count == 32,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)
        else { throw TrustError("\(name): the private key must be 32 bytes of base64") }
        self.init(key: key, publicKey: try PublicKey(raw: [UInt8](key.publicKey.rawRepresentation)))
    }

    /// Parses a key file's bytes; `name` is for the error.
    public init(fileBytes bytes: [UInt8], name: String) throws(TrustError) {
        guard let file = try? StrictJSON.decode(File.self, from: bytes) else {
            throw TrustError("\(name): not a Fixity key file (truncated or not JSON)")
        }
        guard file.type == Self.fileType, file.version == 1 else {
            throw TrustError("\(name): not a Fixity private key file (type '\(file.type)', version \(file.version))")
        }
        guard let seed = Base64.decode(file.seed), seed.count == 32,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)
        else {
            throw TrustError("\(name): the private key must be 32 bytes of base64")
        }
        let derived = try PublicKey(raw: [UInt8](key.publicKey.rawRepresentation))
        guard Base64.decode(file.publicKey) == derived.raw, file.keyID == derived.id.hex else {
            throw TrustError("\(name): corrupt key file (its public key or id does not match the private key)")
        }
        self.init(key: key, publicKey: derived)
    }
}
