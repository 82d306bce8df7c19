import Crypto

/// A public key's id: the hex SHA-256 of its 32 raw bytes (DESIGN.md), as DSSE's `keyid`.
public struct KeyID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let hex: String

    public init(publicKey raw: [UInt8]) {
        hex = Digest.of(raw).hex
    }

    /// Accepts exactly 64 lowercase hex digits.
    public init?(hex text: String) {
        guard Digest(hex: text) != nil, text == text.lowercased() else { return nil }
        hex = text
    }

    public var description: String { hex }
    public var short: String { String(hex.prefix(12)) }
    public static func < (lhs: KeyID, rhs: KeyID) -> Bool { lhs.hex < rhs.hex }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = KeyID(hex: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a key id: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(hex)
    }
}

/// An Ed25519 public key that a policy can trust.
public struct PublicKey: Hashable, Sendable {
    public let raw: [UInt8]
    public let id: KeyID
    let key: Curve25519.Signing.PublicKey

    public init(raw: [UInt8]) throws(TrustError) {
        guard raw.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
            throw TrustError("an Ed25519 public key is 32 bytes, got \(raw.count)")
        }
        self.raw = raw
        self.key = key
        id = KeyID(publicKey: raw)
    }

    /// `ed25519:<base64 of the 32 raw bytes>`, the policy file's form.
    public init(policyText text: String) throws(TrustError) {
        guard text.hasPrefix("ed25519:"), let raw = Base64.decode(String(text.dropFirst(8))) else {
            throw TrustError("key '\(text.prefix(20))…' is not of the form ed25519:<base64 of 32 bytes>")
        }
        try self.init(raw: raw)
    }

    public var policyText: String { "ed25519:" + Base64.encode(raw) }
    public var base64: String { Base64.encode(raw) }

    public func verifies(_ signature: [UInt8], over message: [UInt8]) -> Bool {
        signature.count == 64 && key.isValidSignature(signature, for: message)
    }

    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool { lhs.raw == rhs.raw }
    public func hash(into hasher: inout Hasher) { hasher.combine(raw) }
}
