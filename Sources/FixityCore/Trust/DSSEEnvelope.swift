import Foundation

/// A DSSE envelope (https://github.com/secure-systems-lab/dsse, protocol v1): a payload, its
/// type, and signatures over the pre-authentication encoding
/// `"DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload` (LEN: ASCII decimal byte count).
/// Its JSON form is the standard one, so any DSSE verifier reads what Fixity writes.
public struct DSSEEnvelope: Sendable, Codable, Equatable {
    public struct Signature: Sendable, Codable, Equatable {
        public let keyid: String
        /// Base64 of the 64-byte Ed25519 signature.
        public let sig: String

        public init(keyid: String, signature: [UInt8]) {
            self.keyid = keyid
            sig = Base64.encode(signature)
        }
    }

    public let payloadType: String
    /// Base64 of the payload bytes.
    public let payload: String
    public let signatures: [Signature]

    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    public static func pae(type: String, payload: [UInt8]) -> [UInt8] {
        Array("DSSEv1 \(type.utf8.count) \(type) \(payload.count) ".utf8) + payload
    }

    /// Signs `payload` with one key.
    public static func sign(payload: [UInt8], type: String = inTotoPayloadType, key: SigningKey) -> DSSEEnvelope {
        sign(payload: payload, type: type, keys: [key])
    }

    /// Signs `payload` with each of `keys` (one envelope, a signature per key).
    public static func sign(payload: [UInt8], type: String, keys: [SigningKey]) -> DSSEEnvelope {
        let message = pae(type: type, payload: payload)
        return DSSEEnvelope(
            payloadType: type, payload: Base64.encode(payload),
            signatures: keys.map { Signature(keyid: $0.id.hex, signature: $0.sign(message)) })
    }

    public init(payloadType: String, payload: String, signatures: [Signature]) {
        self.payloadType = payloadType
        self.payload = payload
        self.signatures = signatures
    }

    /// Strict parse of envelope JSON from elsewhere: fields present, base64 canonical, at least
    /// one signature (unless `allowUnsigned`: a seal's unsigned provenance, listed in a proof
    /// bundle, counts for nothing but is no error). Signatures are not checked here (that needs
    /// the keys a policy trusts).
    public init(
        json bytes: [UInt8], source: String, allowUnsigned: Bool = false, payloadType: String = inTotoPayloadType
    ) throws(TrustError) {
        do { try StrictJSON.checkNoDuplicateKeys(bytes) } catch {
            throw TrustError("\(source): \(error) (refused: tools disagree on which value counts)")
        }
        guard let envelope = try? JSONDecoder().decode(DSSEEnvelope.self, from: Data(bytes)) else {
            throw TrustError("\(source): not a DSSE envelope (expected payloadType, payload and signatures)")
        }
        guard envelope.payloadType == payloadType else {
            throw TrustError("\(source): payload type '\(envelope.payloadType)' is not \(payloadType)")
        }
        guard Base64.decode(envelope.payload) != nil else { throw TrustError("\(source): payload is not base64") }
        guard allowUnsigned || !envelope.signatures.isEmpty else {
            throw TrustError("\(source): envelope has no signatures")
        }
        for signature in envelope.signatures {
            guard let raw = Base64.decode(signature.sig), raw.count == 64 else {
                throw TrustError("\(source): signature by '\(signature.keyid.prefix(16))' is not 64 bytes of base64")
            }
        }
        self = envelope
    }

    public var payloadBytes: [UInt8] { Base64.decode(payload) ?? [] }

    /// The key ids among `keys` whose signature on this envelope verifies. A key that signed
    /// twice counts once; a signature by a key not in `keys` is ignored, not an error.
    public func verifiedSigners(among keys: [PublicKey]) -> Set<KeyID> {
        let message = Self.pae(type: payloadType, payload: payloadBytes)
        var signers = Set<KeyID>()
        for signature in signatures {
            guard let raw = Base64.decode(signature.sig) else { continue }
            for key in keys where key.id.hex == signature.keyid && key.verifies(raw, over: message) {
                signers.insert(key.id)
            }
        }
        return signers
    }

    public func jsonBytes() -> [UInt8] {
        JSONStyle.compact.bytes(self)
    }
}
