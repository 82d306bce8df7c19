/// The keys that may sign policies (the policy file's `[root]` table, TUF's root role): a policy
/// is accepted only with valid signatures by `threshold` distinct keys of the root in force, and
/// of its own root (docs/signatures.md, "Signed policies").
public struct RootRole: Sendable, Equatable {
    public let keys: [PublicKey]
    public let threshold: Int

    public init(keys: [PublicKey], threshold: Int) throws(TrustError) {
        guard !keys.isEmpty else { throw TrustError("[root] keys must name at least one key") }
        guard Set(keys.map(\.id)).count == keys.count else { throw TrustError("[root] keys lists a key twice") }
        guard (1...keys.count).contains(threshold) else {
            throw TrustError("[root] threshold must be 1 to \(keys.count) (the number of root keys), not \(threshold)")
        }
        self.keys = keys
        self.threshold = threshold
    }

    /// Distinct root keys whose signature on `envelope` verifies.
    public func signers(of envelope: DSSEEnvelope) -> Set<KeyID> { envelope.verifiedSigners(among: keys) }
}

/// A policy as a server keeps it and an agent checks it: the policy file's text as the payload
/// of a DSSE envelope signed by root keys.
public enum SignedPolicy {
    public static let payloadType = "application/vnd.fixity.policy+toml"

    /// An envelope of `text` signed by every key given.
    public static func sign(text: String, keys: [SigningKey]) -> DSSEEnvelope {
        DSSEEnvelope.sign(payload: Array(text.utf8), type: payloadType, keys: keys)
    }

    /// The envelope's policy text, parsed strictly; its signatures are checked by `admit`.
    public static func unwrap(_ bytes: [UInt8], source: String) throws(TrustError) -> (DSSEEnvelope, String) {
        let envelope = try DSSEEnvelope(json: bytes, source: source, payloadType: payloadType)
        guard let text = String(validating: envelope.payloadBytes, as: UTF8.self) else {
            throw TrustError("\(source): the policy text is not UTF-8")
        }
        return (envelope, text)
    }

    /// Whether `policy`, carried by `envelope`, may replace `current` (nil: the first policy).
    /// It must name a root; its own root's threshold must have signed it (so a policy is never
    /// self-contradictory); and the root in force must have signed it by its threshold — which
    /// is what lets a root change only with the old root's consent.
    public static func admit(_ envelope: DSSEEnvelope, policy: Policy, current: Policy?) throws(TrustError) {
        guard let root = policy.root else {
            throw TrustError(
                "the policy has no [root] table: a signed policy names the keys that may sign its successor")
        }
        let own = root.signers(of: envelope)
        guard own.count >= root.threshold else {
            throw TrustError(
                "the policy is signed by \(own.count) of its own root keys; its [root] threshold is \(root.threshold)")
        }
        guard let current else { return }
        guard let inForce = current.root else {
            throw TrustError("the policy in force has no [root]: it cannot authorize a successor")
        }
        let old = inForce.signers(of: envelope)
        guard old.count >= inForce.threshold else {
            let changed = Set(inForce.keys) != Set(root.keys) || inForce.threshold != root.threshold
            throw TrustError(
                "the policy is signed by \(old.count) of the \(inForce.keys.count) root keys in force; it needs \(inForce.threshold)"
                    + (changed ? " (a policy that changes [root] needs the old root's threshold too)" : ""))
        }
    }
}
