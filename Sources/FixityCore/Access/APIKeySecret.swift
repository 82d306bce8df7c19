import Crypto

/// An API key's secret: `fxk_` and 32 random bytes in base64url (43 characters, no padding).
/// Shown once, when made; a server keeps only its SHA-256 and a short display prefix, and
/// compares digests in constant time.
public struct APIKeySecret: Sendable {
    public static let prefix = "fxk_"
    public let text: String

    /// A new secret from the system's cryptographic random source.
    public static func generate() -> APIKeySecret {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return APIKeySecret(text: prefix + Base64.encodeURL(bytes))
    }

    /// A presented key, checked for shape only (whether it is known is the key store's question).
    public init(presented text: String) throws(AccessError) {
        guard text.hasPrefix(Self.prefix), text.utf8.count == Self.prefix.utf8.count + 43,
            let raw = Base64.decodeURL(String(text.dropFirst(Self.prefix.count))), raw.count == 32
        else {
            throw AccessError(.unauthorized, "not a Fixity API key (fxk_ and 43 base64url characters)")
        }
        self.text = text
    }

    private init(text: String) { self.text = text }

    /// What is stored: SHA-256 of the whole key text.
    public var digest: Digest { Digest.of(Array(text.utf8)) }

    /// What lists show, enough to tell keys apart and nothing to guess from: `fxk_` and 6 characters.
    public var displayPrefix: String { String(text.prefix(Self.prefix.count + 6)) }

    /// Digest equality in time independent of where the digests differ.
    public static func constantTimeEqual(_ a: Digest, _ b: Digest) -> Bool {
        var difference: UInt8 = 0
        for (x, y) in zip(a.bytes, b.bytes) { difference |= x ^ y }
        return difference == 0 && a.bytes.count == b.bytes.count
    }
}
