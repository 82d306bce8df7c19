import FixityCore
import FixityTrust

/// What a server checks of a DSSE envelope before keeping it, whatever keeps it: its statement
/// names the release; every signature by a key the policy in force knows (`[keys]` or `[root]`)
/// verifies, and at least one does; an unsigned envelope is kept only as a seal's provenance
/// (which counts for nothing). A signature by a key the policy does not know cannot be
/// verified, so it is refused rather than kept on the sender's word.
enum EnvelopeCheck {
    /// The parsed envelope and its statement's predicate type, or the refusal.
    static func check(_ bytes: [UInt8], about release: ReleaseID, policy: (Policy, Digest)?) throws -> (
        DSSEEnvelope, InTotoStatement
    ) {
        let source = "envelope about \(release.short)"
        let envelope = try DSSEEnvelope(json: bytes, source: source, allowUnsigned: true)
        let statement = try InTotoStatement(payload: envelope.payloadBytes, source: source)
        guard statement.names(release) else {
            throw TrustError("\(source): its statement is about another release")
        }
        if envelope.signatures.isEmpty {
            guard statement.predicateType == InTotoStatement.PredicateType.provenance else {
                throw TrustError("\(source): an unsigned envelope is kept only as a seal's provenance")
            }
            return (envelope, statement)
        }
        guard let (policy, digest) = policy else {
            throw TrustError(
                "\(source): this server has no policy, so no key to verify a signature with; set the policy first (fixity policy set --server)"
            )
        }
        let known = Array(policy.keys.values) + (policy.root?.keys ?? [])
        let verified = envelope.verifiedSigners(among: known)
        for signature in envelope.signatures {
            guard let key = known.first(where: { $0.id.hex == signature.keyid }) else { continue }
            guard verified.contains(key.id) else {
                throw TrustError(
                    "\(source): the signature claiming key \(key.id.short) does not verify; nothing was stored")
            }
        }
        guard !verified.isEmpty else {
            let ids = envelope.signatures.map { String($0.keyid.prefix(12)) }.joined(separator: ", ")
            throw TrustError(
                "\(source): signed only by keys policy \(digest.short) does not know (\(ids)); add them to [keys] first"
            )
        }
        return (envelope, statement)
    }
}
