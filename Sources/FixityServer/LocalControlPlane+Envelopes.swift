import FixityApp
import FixityCore
import FixityStore
import FixityTrust

/// Signatures and attestations arriving at the server, verified before they are kept.
extension LocalControlPlane {
    /// An envelope is kept only when it says something checkable: its statement names the
    /// release; every signature by a key the policy in force knows (`[keys]` or `[root]`)
    /// verifies; and at least one does. An unsigned envelope is kept only as a seal's unsigned
    /// provenance (which counts for nothing, as locally). A signature by a key the policy does
    /// not know cannot be verified, so it is refused rather than kept on the sender's word.
    func addEnvelope(_ bytes: [UInt8], about release: ReleaseID, keyID: String) async throws -> Bool {
        try await BlockingWork.run { [store] in
            try store.ensureSchema(ControlPlaneSchema.part)
            let source = "envelope about \(release.short)"
            let envelope = try DSSEEnvelope(json: bytes, source: source, allowUnsigned: true)
            if envelope.signatures.isEmpty {
                let statement = try InTotoStatement(payload: envelope.payloadBytes, source: source)
                guard statement.predicateType == InTotoStatement.PredicateType.provenance else {
                    throw TrustError("\(source): an unsigned envelope is kept only as a seal's provenance")
                }
                return try store.addEnvelope(envelope, about: release, source: source)
            }
            guard let signed = try store.database.storeRead({ db in try Self.signedPolicy(db, store: store) }) else {
                throw TrustError(
                    "\(source): this server has no policy, so no key to verify a signature with; set the policy first (fixity policy set --server)"
                )
            }
            let policy = try PolicyFile.parse(try Self.text(of: signed), name: "in force")
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
                    "\(source): signed only by keys policy \(signed.digest.short) does not know (\(ids)); add them to [keys] first"
                )
            }
            return try store.addEnvelope(envelope, about: release, source: source)
        }
    }

    func envelopes(about release: ReleaseID) async throws -> [DSSEEnvelope] {
        try await BlockingWork.run { [store] in try store.envelopes(about: release).map(\.envelope) }
    }
}
